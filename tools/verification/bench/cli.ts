// npm run bench [-- --json] [--quick] ...: progress on stderr; the table on stdout and, with
// --json, the result as one JSON object on the last line.
import { parseBenchArgs, USAGE } from './args';
import { runBench } from './bench';
import { jsonLine, renderReport } from './report';

async function main(): Promise<void> {
  let args: ReturnType<typeof parseBenchArgs>;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const started = Date.now();
  const result = await runBench(args, (line) => {
    const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`bench ${t}s  ${line}\n`);
  });
  process.stdout.write(`${renderReport(result)}\n`);
  if (args.json) process.stdout.write(`${jsonLine(result)}\n`);
  // Parts that could not be measured make the run fail; missed targets do not (they are figures).
  if (result.errors.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
