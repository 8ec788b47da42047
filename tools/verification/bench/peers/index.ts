// The peers comparison (`npm run bench -- --peers`): the project's relay and Debezium measured
// by the same method in one run. measure.ts has the method; debezium*.ts the Debezium peer.
export { DEBEZIUM_TUNING, PRODUCER_TUNING } from './debezium-config';
export { CONNECT_VERSION, DEBEZIUM_VERSION } from './debezium-jars';
export type {
  PeerContext,
  PeerDetails,
  PeerFigures,
  PeerSizes,
  PeersResult,
} from './measure';
export { measurePeers } from './measure';
