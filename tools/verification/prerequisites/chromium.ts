// Debian's Chromium (`apt-get install chromium`; .ci/run installs it when missing), driven by
// playwright-core without its downloaded browsers. Flags keep it offline and quiet.
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
