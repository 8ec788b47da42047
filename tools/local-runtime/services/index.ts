// Programmatic API of the services tool (the CLI is cli.ts).
export type { KafkaResult, KafkaStatus, StopResult } from './kafka-broker';
export {
  ensureKafka,
  kafkaStatus,
  kafkaTarget,
  LOCAL_BROKER,
  localBrokerVersion,
  stopKafka,
} from './kafka-broker';
export { HEALTH_TOPIC, kafkaAnswers, kafkaRoundTrip } from './kafka-health';
export { kafkaPaths, REPO_ROOT } from './paths';
export type { PostgresEndpoint } from './postgres';
export { probePostgres } from './postgres';
export type { RedisEndpoint } from './redis';
export { parseRedisEnv, probeRedis } from './redis';
export type { Progress } from './report';
export { ServiceError, silentProgress, stderrProgress } from './report';
export type {
  EnsureServicesOptions,
  ServiceEndpoints,
  ServiceName,
  ServiceStatus,
} from './services';
export { endpointsEnv, ensureServices, formatStatus, servicesStatus } from './services';
