// `npm run schema:check`: fails (exit 1) when the current event schemas break the evolution
// rules against the released snapshots in schemas/released/.
// `npm run schema:check -- --release`: same check, then writes the current schemas as the new
// released snapshots (refused while the check fails, so a release cannot hide a break).
import { spawnSync } from 'node:child_process';
import { checkAll, formatCheck } from './compare';
import { currentSnapshots, RELEASED_DIR, readReleased, writeReleased } from './snapshot';

function main(argv: readonly string[]): number {
  const unknown = argv.filter((a) => a !== '--release');
  if (unknown.length > 0) {
    console.error(`usage: schema-check [--release] (unknown: ${unknown.join(' ')})`);
    return 2;
  }
  const current = currentSnapshots();
  const check = checkAll(readReleased(), current);
  console.log(formatCheck(check));
  if (!check.ok) return 1;
  if (argv.includes('--release')) {
    writeReleased(current);
    // Biome owns JSON layout in this repo; formatting here keeps `npm run lint` clean.
    const biome = require.resolve('@biomejs/biome/bin/biome');
    const formatted = spawnSync(process.execPath, [biome, 'format', '--write', RELEASED_DIR], {
      stdio: 'inherit',
    });
    if (formatted.status !== 0) console.error('warning: biome format failed; run npm run lint:fix');
    console.log(`released ${current.length} schema snapshot(s) to ${RELEASED_DIR}`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
