import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { InterfaceEndpointName, StageConfig } from '../config/stage-config';
import { acknowledge } from '../constructs/nag';
import { retentionDays } from '../constructs/pipeline-function';

export interface NetworkStackProps extends StackProps {
  readonly config: StageConfig;
}

/**
 * Security groups of the tiers that several stacks connect to. The database group lives in the
 * data stack: RDS derives its rules from the instance's port attribute, which must not flow back.
 */
export interface PipelineSecurityGroups {
  readonly functions: ec2.SecurityGroup;
  readonly proxy: ec2.SecurityGroup;
  readonly cache: ec2.SecurityGroup;
  /** Brokers, and the MSK event source mappings' pollers (they use the cluster's groups). */
  readonly kafka: ec2.SecurityGroup;
  readonly rotation: ec2.SecurityGroup;
  /** The migration function: the only one that reaches the instance itself, as its admin. */
  readonly migrate: ec2.SecurityGroup;
}

export const PORTS = { postgres: 5432, redis: 6379, kafkaIam: 9098, https: 443 } as const;

const ENDPOINT_SERVICES: Record<InterfaceEndpointName, ec2.InterfaceVpcEndpointAwsService> = {
  sts: ec2.InterfaceVpcEndpointAwsService.STS,
  secretsmanager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  kafka: ec2.InterfaceVpcEndpointAwsService.KAFKA,
  lambda: ec2.InterfaceVpcEndpointAwsService.LAMBDA,
  logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  monitoring: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
  sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
};

/** VPC, subnets, egress (NAT or interface endpoints, per config), flow logs, security groups. */
export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly securityGroups: PipelineSecurityGroups;
  /** Functions and rotation Lambdas. */
  readonly appSubnets: ec2.SubnetSelection;
  /** RDS, RDS Proxy, ElastiCache, MSK brokers (and the mappings' pollers): never reachable from outside the VPC. */
  readonly dataSubnets: ec2.SubnetSelection;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;
    const nat = config.network.egress === 'nat';

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(config.network.cidr),
      availabilityZones: [...config.availabilityZones],
      natGateways: nat ? config.network.natGateways : 0,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        // A public subnet exists only to host NAT gateways; nothing else is placed there.
        ...(nat ? [{ name: 'egress', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }] : []),
        {
          name: 'app',
          subnetType: nat ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
          cidrMask: 20,
        },
        {
          name: 'data',
          // The MSK mappings' pollers run in the cluster's subnets and must reach Lambda and STS
          // (Lambda guide, "Configuring your Amazon MSK cluster and Amazon VPC network for
          // Lambda"): through the NAT gateway here, or the interface endpoints in `endpoints`
          // mode. Nothing here accepts traffic from outside the VPC either way.
          subnetType: nat ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
          cidrMask: 22,
        },
      ],
    });
    this.appSubnets = { subnetGroupName: 'app' };
    this.dataSubnets = { subnetGroupName: 'data' };

    if (config.features.vpcFlowLogs) {
      this.vpc.addFlowLog('FlowLogs', {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(
          new logs.LogGroup(this, 'FlowLogGroup', {
            retention: retentionDays(config.network.flowLogRetentionDays),
          }),
        ),
        trafficType: ec2.FlowLogTrafficType.REJECT,
      });
    } else {
      acknowledge(this.vpc, [
        {
          id: 'AwsSolutions-VPC7',
          reason: `Stage ${config.stage} leaves out flow logs by config (features.vpcFlowLogs): LocalStack cannot deploy AWS::EC2::FlowLog.`,
        },
      ]);
    }

    this.securityGroups = this.createSecurityGroups();

    // S3 through a gateway endpoint in every stage: the triage mapping's on-failure destination
    // is an S3 bucket, which Lambda's pollers must reach from the cluster's (data) subnets.
    // Gateway endpoints cost nothing and need no security group.
    this.vpc.addGatewayEndpoint('Endpoint-s3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [this.dataSubnets, this.appSubnets],
    });

    if (!nat) {
      const endpoints = new ec2.SecurityGroup(this, 'EndpointsSg', {
        vpc: this.vpc,
        description: 'Interface endpoints: HTTPS from functions and MSK pollers only',
        allowAllOutbound: false,
      });
      endpoints.addIngressRule(
        this.securityGroups.functions,
        ec2.Port.tcp(PORTS.https),
        'functions',
      );
      endpoints.addIngressRule(
        this.securityGroups.kafka,
        ec2.Port.tcp(PORTS.https),
        'MSK event pollers',
      );
      endpoints.addIngressRule(
        this.securityGroups.rotation,
        ec2.Port.tcp(PORTS.https),
        'secret rotation',
      );
      endpoints.addIngressRule(
        this.securityGroups.migrate,
        ec2.Port.tcp(PORTS.https),
        'schema migrations (the admin secret)',
      );
      for (const name of config.network.interfaceEndpoints) {
        this.vpc.addInterfaceEndpoint(`Endpoint-${name}`, {
          service: ENDPOINT_SERVICES[name],
          subnets: this.appSubnets,
          securityGroups: [endpoints],
          privateDnsEnabled: true,
          open: false,
        });
      }
    }
  }

  private createSecurityGroups(): PipelineSecurityGroups {
    const sg = (id: string, description: string) =>
      new ec2.SecurityGroup(this, id, { vpc: this.vpc, description, allowAllOutbound: false });
    const functions = sg('FunctionsSg', 'Pipeline Lambda functions');
    const proxy = sg('ProxySg', 'RDS Proxy');
    const cache = sg('CacheSg', 'ElastiCache idempotency store');
    const kafka = sg('KafkaSg', 'MSK brokers and event source mapping pollers');
    const rotation = sg('RotationSg', 'Secrets Manager rotation function');
    const migrate = sg('MigrateSg', 'Schema migrations (admin user, direct to the instance)');
    const anyHttps = ec2.Port.tcp(PORTS.https);
    const postgres = ec2.Port.tcp(PORTS.postgres);
    const redis = ec2.Port.tcp(PORTS.redis);
    const kafkaIam = ec2.Port.tcp(PORTS.kafkaIam);

    // AWS APIs (through NAT or the interface endpoints).
    functions.addEgressRule(ec2.Peer.anyIpv4(), anyHttps, 'AWS APIs');
    functions.connections.allowTo(proxy, postgres, 'PostgreSQL through RDS Proxy');
    functions.connections.allowTo(cache, redis, 'Redis TLS');
    functions.connections.allowTo(kafka, kafkaIam, 'Kafka SASL/IAM over TLS');
    rotation.addEgressRule(ec2.Peer.anyIpv4(), anyHttps, 'Secrets Manager API');
    migrate.addEgressRule(ec2.Peer.anyIpv4(), anyHttps, 'Secrets Manager API');
    // MSK pollers run with the cluster's groups: they reach brokers through the self rule and
    // Lambda/STS over HTTPS.
    kafka.connections.allowInternally(ec2.Port.allTcp(), 'brokers and pollers');
    kafka.addEgressRule(ec2.Peer.anyIpv4(), anyHttps, 'Lambda and STS for event pollers');
    return { functions, proxy, cache, kafka, rotation, migrate };
  }
}
