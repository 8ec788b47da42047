// What LocalStack can deploy, as documented. The infra test (test/tools/operations/localstack/coverage.infra.test.ts)
// checks every resource type, transform, intrinsic function and Kafka mapping property of the
// synthesized `localstack` stage against these tables; `npm run deploy:localstack` prints the
// paid services from them. Read on 2026-11-22; update the tables and dates together.

export interface DocSource {
  /** The published page. */
  readonly url: string;
  /** The page's source file, and the commit it was read at. */
  readonly file: string;
  readonly commit: string;
  /** When it was read. */
  readonly read: string;
}

const DOCS = 'https://docs.localstack.cloud/aws/services';
const DOCS_REPO = 'localstack/localstack-docs';
const READ = '2026-11-22';

export const CLOUDFORMATION_COVERAGE_SOURCE: DocSource = {
  url: `${DOCS}/cloudformation/`,
  file: `${DOCS_REPO}:src/content/docs/aws/services/cloudformation.mdx`,
  commit: '0998e5212870c09253f8c3986b95d729e68b4441',
  read: READ,
};

/** The image a resource type needs, per the "Community image" and "Pro image" tables. */
export type CloudFormationTier = 'community' | 'pro';

// Transcribed from the two resource tables (types listed in both are community). Two types are
// misspelled on the page (AWS::EFS:MountTarget, AWS::Cloudfront::ResponseHeadersPolicy); they are
// listed here under their CloudFormation names.
const COMMUNITY = `
AWS::Amplify::Branch
AWS::ApiGateway::Account AWS::ApiGateway::ApiKey AWS::ApiGateway::BasePathMapping
AWS::ApiGateway::Deployment AWS::ApiGateway::DomainName AWS::ApiGateway::GatewayResponse
AWS::ApiGateway::Method AWS::ApiGateway::Model AWS::ApiGateway::RequestValidator
AWS::ApiGateway::Resource AWS::ApiGateway::RestApi AWS::ApiGateway::Stage
AWS::ApiGateway::UsagePlan AWS::ApiGateway::UsagePlanKey
AWS::AutoScaling::AutoScalingGroup AWS::AutoScaling::LaunchConfiguration
AWS::CDK::Metadata
AWS::CertificateManager::Certificate
AWS::CloudFormation::Macro AWS::CloudFormation::Stack AWS::CloudFormation::WaitCondition
AWS::CloudFormation::WaitConditionHandle
AWS::CloudWatch::Alarm AWS::CloudWatch::CompositeAlarm
AWS::DynamoDB::GlobalTable AWS::DynamoDB::Table
AWS::EC2::DHCPOptions AWS::EC2::Instance AWS::EC2::InternetGateway AWS::EC2::KeyPair
AWS::EC2::NatGateway AWS::EC2::NetworkAcl AWS::EC2::Route AWS::EC2::RouteTable
AWS::EC2::SecurityGroup AWS::EC2::Subnet AWS::EC2::SubnetRouteTableAssociation
AWS::EC2::TransitGateway AWS::EC2::TransitGatewayAttachment AWS::EC2::VPC
AWS::EC2::VPCGatewayAttachment
AWS::ECR::Repository
AWS::Elasticsearch::Domain
AWS::Events::ApiDestination AWS::Events::Connection AWS::Events::EventBus
AWS::Events::EventBusPolicy AWS::Events::Rule
AWS::IAM::AccessKey AWS::IAM::Group AWS::IAM::InstanceProfile AWS::IAM::ManagedPolicy
AWS::IAM::Policy AWS::IAM::Role AWS::IAM::ServiceLinkedRole AWS::IAM::User
AWS::KMS::Alias AWS::KMS::Key
AWS::Kinesis::Stream AWS::Kinesis::StreamConsumer AWS::KinesisFirehose::DeliveryStream
AWS::Lambda::Alias AWS::Lambda::CodeSigningConfig AWS::Lambda::EventInvokeConfig
AWS::Lambda::EventSourceMapping AWS::Lambda::Function AWS::Lambda::LayerVersion
AWS::Lambda::LayerVersionPermission AWS::Lambda::Permission AWS::Lambda::Url
AWS::Lambda::Version
AWS::Logs::LogGroup AWS::Logs::LogStream AWS::Logs::SubscriptionFilter
AWS::OpenSearchService::Domain
AWS::Redshift::Cluster
AWS::ResourceGroups::Group
AWS::Route53::HealthCheck AWS::Route53::RecordSet
AWS::S3::Bucket AWS::S3::BucketPolicy
AWS::SNS::Subscription AWS::SNS::Topic AWS::SNS::TopicPolicy
AWS::SQS::Queue AWS::SQS::QueuePolicy
AWS::SSM::MaintenanceWindow AWS::SSM::MaintenanceWindowTarget AWS::SSM::MaintenanceWindowTask
AWS::SSM::Parameter AWS::SSM::PatchBaseline
AWS::Scheduler::Schedule AWS::Scheduler::ScheduleGroup
AWS::SecretsManager::ResourcePolicy AWS::SecretsManager::RotationSchedule
AWS::SecretsManager::Secret AWS::SecretsManager::SecretTargetAttachment
AWS::ServiceDiscovery::HttpNamespace AWS::ServiceDiscovery::PrivateDnsNamespace
AWS::ServiceDiscovery::PublicDnsNamespace AWS::ServiceDiscovery::Service
AWS::StepFunctions::Activity AWS::StepFunctions::StateMachine
AWS::Timestream::Database AWS::Timestream::Table
`;

const PRO = `
AWS::Amplify::App
AWS::ApiGateway::Authorizer AWS::ApiGateway::VpcLink
AWS::ApiGatewayV2::Api AWS::ApiGatewayV2::ApiMapping AWS::ApiGatewayV2::Authorizer
AWS::ApiGatewayV2::Deployment AWS::ApiGatewayV2::DomainName AWS::ApiGatewayV2::Integration
AWS::ApiGatewayV2::IntegrationResponse AWS::ApiGatewayV2::Route
AWS::ApiGatewayV2::RouteResponse AWS::ApiGatewayV2::Stage AWS::ApiGatewayV2::VpcLink
AWS::AppConfig::Application AWS::AppConfig::ConfigurationProfile AWS::AppConfig::Deployment
AWS::AppConfig::DeploymentStrategy AWS::AppConfig::Environment
AWS::AppConfig::HostedConfigurationVersion
AWS::AppSync::ApiKey AWS::AppSync::DataSource AWS::AppSync::FunctionConfiguration
AWS::AppSync::GraphQLApi AWS::AppSync::GraphQLSchema AWS::AppSync::Resolver
AWS::ApplicationAutoScaling::ScalableTarget AWS::ApplicationAutoScaling::ScalingPolicy
AWS::Athena::DataCatalog AWS::Athena::NamedQuery AWS::Athena::WorkGroup
AWS::Backup::BackupPlan
AWS::Batch::ComputeEnvironment AWS::Batch::JobDefinition AWS::Batch::JobQueue
AWS::CloudFormation::CustomResource
AWS::CloudFront::CachePolicy AWS::CloudFront::CloudFrontOriginAccessIdentity
AWS::CloudFront::Distribution AWS::CloudFront::Function AWS::CloudFront::OriginAccessControl
AWS::CloudFront::OriginRequestPolicy AWS::CloudFront::ResponseHeadersPolicy
AWS::CloudTrail::Trail
AWS::Cognito::IdentityPool AWS::Cognito::IdentityPoolRoleAttachment AWS::Cognito::UserPool
AWS::Cognito::UserPoolClient AWS::Cognito::UserPoolDomain AWS::Cognito::UserPoolGroup
AWS::Cognito::UserPoolIdentityProvider AWS::Cognito::UserPoolResourceServer
AWS::DocDB::DBCluster AWS::DocDB::DBClusterParameterGroup AWS::DocDB::DBInstance
AWS::DocDB::DBSubnetGroup
AWS::EC2::EIP AWS::EC2::LaunchTemplate AWS::EC2::PrefixList AWS::EC2::SecurityGroupEgress
AWS::EC2::SecurityGroupIngress AWS::EC2::VPCCidrBlock AWS::EC2::VPCEndpoint
AWS::EC2::VPCEndpointService
AWS::ECS::CapacityProvider AWS::ECS::Cluster AWS::ECS::ClusterCapacityProviderAssociations
AWS::ECS::Service AWS::ECS::TaskDefinition
AWS::EFS::AccessPoint AWS::EFS::FileSystem AWS::EFS::MountTarget
AWS::EKS::Cluster AWS::EKS::FargateProfile AWS::EKS::Nodegroup
AWS::ElastiCache::CacheCluster AWS::ElastiCache::ParameterGroup
AWS::ElastiCache::ReplicationGroup AWS::ElastiCache::SecurityGroup AWS::ElastiCache::SubnetGroup
AWS::ElasticBeanstalk::Application AWS::ElasticBeanstalk::ApplicationVersion
AWS::ElasticBeanstalk::ConfigurationTemplate AWS::ElasticBeanstalk::Environment
AWS::ElasticLoadBalancingV2::Listener AWS::ElasticLoadBalancingV2::ListenerRule
AWS::ElasticLoadBalancingV2::LoadBalancer AWS::ElasticLoadBalancingV2::TargetGroup
AWS::Glue::Classifier AWS::Glue::Crawler AWS::Glue::Connection AWS::Glue::Database
AWS::Glue::Job AWS::Glue::Registry AWS::Glue::SchemaVersion AWS::Glue::SchemaVersionMetadata
AWS::Glue::Table AWS::Glue::Trigger AWS::Glue::Workflow
AWS::IoT::Certificate AWS::IoT::Policy AWS::IoT::RoleAlias AWS::IoT::Thing AWS::IoT::TopicRule
AWS::IoTAnalytics::Channel AWS::IoTAnalytics::Dataset AWS::IoTAnalytics::Datastore
AWS::IoTAnalytics::Pipeline
AWS::KinesisAnalytics::Application AWS::KinesisAnalytics::ApplicationOutput
AWS::MSK::Cluster
AWS::Neptune::DBCluster AWS::Neptune::DBClusterParameterGroup AWS::Neptune::DBInstance
AWS::Neptune::DBParameterGroup AWS::Neptune::DBSubnetGroup
AWS::Pipes::Pipe
AWS::RDS::DBCluster AWS::RDS::DBClusterParameterGroup AWS::RDS::DBInstance
AWS::RDS::DBParameterGroup AWS::RDS::DBProxy AWS::RDS::DBProxyTargetGroup
AWS::RDS::DBSubnetGroup AWS::RDS::GlobalCluster
AWS::Redshift::ClusterParameterGroup AWS::Redshift::ClusterSecurityGroup
AWS::Redshift::ClusterSubnetGroup
AWS::Route53::HostedZone
AWS::SageMaker::Endpoint AWS::SageMaker::EndpointConfig AWS::SageMaker::Model
AWS::SES::ReceiptRule AWS::SES::ReceiptRuleSet AWS::SES::Template
AWS::VerifiedPermissions::IdentitySource AWS::VerifiedPermissions::Policy
AWS::VerifiedPermissions::PolicyStore AWS::VerifiedPermissions::PolicyTemplate
AWS::WAFv2::IPSet AWS::WAFv2::LoggingConfiguration AWS::WAFv2::WebACL
AWS::WAFv2::WebACLAssociation
`;

const words = (list: string): string[] => list.split(/\s+/).filter((w) => w !== '');

/** Resource type -> the image that deploys it. */
export const CLOUDFORMATION_RESOURCE_TIERS: ReadonlyMap<string, CloudFormationTier> = new Map([
  ...words(PRO).map((t) => [t, 'pro'] as const),
  // Community last: a type in both tables needs only the community image.
  ...words(COMMUNITY).map((t) => [t, 'community'] as const),
]);

/**
 * LocalStack deploys every `Custom::*` type as AWS::CloudFormation::CustomResource
 * (localstack/localstack: localstack-core/localstack/services/cloudformation/resource_provider.py,
 * `get_resource_type`, "overwritten in PRO to add support for custom resources").
 */
export function coverageType(resourceType: string): string {
  return resourceType.startsWith('Custom::') ? 'AWS::CloudFormation::CustomResource' : resourceType;
}

/** The tier a template resource type needs, or undefined when LocalStack cannot deploy it. */
export function tierOf(resourceType: string): CloudFormationTier | undefined {
  return CLOUDFORMATION_RESOURCE_TIERS.get(coverageType(resourceType));
}

/** Intrinsic functions the CloudFormation page marks unsupported. */
export const UNSUPPORTED_INTRINSICS: readonly string[] = [
  'Fn::ToJsonString',
  'Fn::Cidr',
  'Fn::GetAZs',
];

/**
 * Template-level transforms LocalStack's engine applies (localstack/localstack:
 * localstack-core/localstack/services/cloudformation/engine/v2/change_set_model_transform.py,
 * commit 069965e04411b5fca7a2bf712562a301845c0e87). It only logs and skips
 * AWS::SecretsManager-2020-07-23, and treats any other name, such as the
 * AWS::SecretsManager-2024-09-16 of hosted rotation, as a macro it must have been given.
 */
export const SUPPORTED_TRANSFORMS: readonly string[] = [
  'AWS::Serverless-2016-10-31',
  'AWS::LanguageExtensions',
  'AWS::Include',
];

export const LAMBDA_MAPPINGS_SOURCE: DocSource = {
  url: `${DOCS}/lambda/#behaviour-coverage`,
  file: `${DOCS_REPO}:src/content/docs/aws/services/lambda.mdx`,
  commit: '001736d8d71b3a1e6c736973537a2a07ef22e7fd',
  read: READ,
};

/**
 * AWS::Lambda::EventSourceMapping properties the behaviour table marks "not implemented" or
 * "not applicable" for Amazon MSK sources: LocalStack would take them and not act on them.
 */
export const UNSUPPORTED_MSK_MAPPING_PROPERTIES: readonly string[] = [
  'ProvisionedPollerConfig',
  'DestinationConfig',
  'FunctionResponseTypes',
  'MaximumRetryAttempts',
  'BisectBatchOnFunctionError',
  'MaximumRecordAgeInSeconds',
  'ParallelizationFactor',
  'TumblingWindowInSeconds',
  'ScalingConfig',
  'MetricsConfig',
];

/** LocalStack plans, cheapest first; Free and Hobby cost nothing, Base and Ultimate are paid. */
export type LocalStackPlan = 'Free' | 'Hobby' | 'Base' | 'Ultimate';
export const PAID_PLANS: readonly LocalStackPlan[] = ['Base', 'Ultimate'];

export interface ServicePlan {
  /** CloudFormation service namespaces (`AWS::<namespace>::...`) this row covers. */
  readonly namespaces: readonly string[];
  readonly service: string;
  /** The cheapest plan with the service, from the tags of its docs page. */
  readonly plan: LocalStackPlan;
  readonly url: string;
  readonly note?: string;
}

/** The services the pipeline stacks use, with the plan each needs (service pages, read 2026-11-22). */
export const SERVICE_PLANS: readonly ServicePlan[] = [
  {
    namespaces: ['MSK'],
    service: 'Amazon MSK',
    plan: 'Ultimate',
    url: `${DOCS}/msk/`,
    note: 'the Lambda event source mappings from MSK are licensed-only as well',
  },
  { namespaces: ['RDS'], service: 'RDS and RDS Proxy', plan: 'Base', url: `${DOCS}/rds/` },
  {
    namespaces: ['ElastiCache'],
    service: 'ElastiCache',
    plan: 'Base',
    url: `${DOCS}/elasticache/`,
  },
  {
    namespaces: ['ApiGatewayV2'],
    service: 'API Gateway v2 (HTTP API)',
    plan: 'Base',
    url: `${DOCS}/apigateway/`,
  },
  { namespaces: ['Lambda'], service: 'Lambda', plan: 'Hobby', url: `${DOCS}/lambda/` },
  { namespaces: ['EC2'], service: 'EC2 (VPC)', plan: 'Hobby', url: `${DOCS}/ec2/` },
  { namespaces: ['IAM'], service: 'IAM', plan: 'Hobby', url: `${DOCS}/iam/` },
  { namespaces: ['KMS'], service: 'KMS', plan: 'Hobby', url: `${DOCS}/kms/` },
  {
    namespaces: ['SecretsManager'],
    service: 'Secrets Manager',
    plan: 'Hobby',
    url: `${DOCS}/secretsmanager/`,
  },
  { namespaces: ['Events'], service: 'EventBridge', plan: 'Hobby', url: `${DOCS}/events/` },
  { namespaces: ['CloudWatch'], service: 'CloudWatch', plan: 'Hobby', url: `${DOCS}/cloudwatch/` },
  { namespaces: ['Logs'], service: 'CloudWatch Logs', plan: 'Hobby', url: `${DOCS}/logs/` },
  { namespaces: ['SQS'], service: 'SQS', plan: 'Free', url: `${DOCS}/sqs/` },
  { namespaces: ['S3'], service: 'S3', plan: 'Free', url: `${DOCS}/s3/` },
  { namespaces: ['SNS'], service: 'SNS', plan: 'Free', url: `${DOCS}/sns/` },
  {
    namespaces: ['CloudFormation', 'CDK'],
    service: 'CloudFormation',
    plan: 'Free',
    url: `${DOCS}/cloudformation/`,
    note: 'custom resources need the Pro image',
  },
];

/** `AWS::RDS::DBProxy` -> `RDS`; custom resources count as CloudFormation. */
export function serviceNamespace(resourceType: string): string {
  const parts = coverageType(resourceType).split('::');
  return parts[1] ?? resourceType;
}

export function planOf(resourceType: string): ServicePlan | undefined {
  const ns = serviceNamespace(resourceType);
  return SERVICE_PLANS.find((p) => p.namespaces.includes(ns));
}

/** The rows of the paid plans, most expensive first: what the deploy message and README list. */
export function paidServices(): ServicePlan[] {
  return SERVICE_PLANS.filter((p) => PAID_PLANS.includes(p.plan)).sort(
    (a, b) => PAID_PLANS.indexOf(b.plan) - PAID_PLANS.indexOf(a.plan),
  );
}
