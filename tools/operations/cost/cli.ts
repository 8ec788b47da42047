/**
 * `npm run cost -- --stage prod|dev|localstack [--json]`: prices the synthesized templates of a
 * stage from the committed price table and prints a table per `Service` tag beside the reference deployment's cost.
 */
import { STAGES, type StageName } from '../../../lib/config/stage-config';
import { type Estimate, estimate, lpad, money, pad } from './estimate';
import { asOfDates, HOURS_PER_MONTH, PRICES, REFERENCE_DEPLOYMENT } from './prices';
import { synthResources } from './synth';

export interface CostArgs {
  readonly stage: StageName;
  readonly json: boolean;
}

export function parseArgs(argv: readonly string[]): CostArgs {
  let stage: string = 'dev';
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--stage') stage = argv[++i] ?? '';
    else if (a?.startsWith('--stage=')) stage = a.slice('--stage='.length);
    else if (a === '--help' || a === '-h') {
      throw new Error('usage: npm run cost -- --stage prod|dev|localstack [--json]');
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new Error(`--stage must be one of ${STAGES.join(', ')} (got "${stage}")`);
  }
  return { stage: stage as StageName, json };
}

export function renderTable(stage: string, e: Estimate): string {
  const lines: string[] = [];
  lines.push(
    `Estimated monthly cost — stage ${stage}, ${e.region} (on-demand list prices, ${HOURS_PER_MONTH} h/month)`,
  );
  lines.push('');
  const ref = REFERENCE_DEPLOYMENT.byService;
  const services = Object.keys(e.byService).sort();
  lines.push(`${pad('Service tag', 22)}${lpad('estimate', 12)}${lpad('reference', 12)}  items`);
  lines.push('-'.repeat(60));
  for (const s of services) {
    const items = e.lineItems.filter((i) => i.service === s);
    const usage = items.filter((i) => i.basis === 'usage').length;
    const unp = e.unpriced.filter((u) => u.service === s).length;
    const r = ref[s];
    const note = [
      `${items.length - usage} priced`,
      usage ? `${usage} usage-based` : '',
      unp ? `${unp} UNPRICED` : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(
      `${pad(s, 22)}${lpad(money(e.byService[s] ?? 0), 12)}${lpad(r === undefined ? '' : money(r), 12)}  ${note}`,
    );
  }
  lines.push(
    `${pad('(K8s compute → Lambda)', 22)}${lpad('usage', 12)}${lpad(money(REFERENCE_DEPLOYMENT.kubernetesComputeUsd), 12)}  Lambda is usage-based, $0 at idle`,
  );
  lines.push('-'.repeat(60));
  lines.push(
    `${pad('TOTAL (fixed, at idle)', 22)}${lpad(money(e.totalUsd), 12)}${lpad(money(REFERENCE_DEPLOYMENT.totalUsd), 12)}  ${e.unpriced.length ? 'excludes unpriced items' : ''}`,
  );
  lines.push('');
  lines.push('Line items (~ = price marked approximate in tools/operations/cost/prices.ts):');
  for (const s of services) {
    for (const i of e.lineItems.filter((x) => x.service === s && x.basis !== 'usage')) {
      lines.push(
        `  ${pad(s, 14)}${lpad(money(i.monthlyUsd), 10)}${i.approximate ? '~' : ' '} ${pad(i.basis, 8)}${pad(i.logicalId, 44)} ${i.detail}`,
      );
    }
  }
  const usageTypes = new Map<string, number>();
  for (const i of e.lineItems.filter((x) => x.basis === 'usage')) {
    usageTypes.set(i.type, (usageTypes.get(i.type) ?? 0) + 1);
  }
  lines.push('');
  lines.push('Usage-based, $0 at idle (billed per request/GB/invocation):');
  for (const [t, n] of [...usageTypes].sort()) lines.push(`  ${n} × ${t}`);
  lines.push('');
  lines.push(`Free resources: ${e.free.length}`);
  lines.push('');
  if (e.unpriced.length === 0) lines.push('Unpriced: none');
  else {
    lines.push(`UNPRICED (${e.unpriced.length}) — not included in the total:`);
    for (const u of e.unpriced) {
      lines.push(`  ${pad(u.type, 34)}${pad(`${u.stack}/${u.logicalId}`, 56)} ${u.reason}`);
    }
  }
  const sources = PRICES[e.region];
  if (sources) {
    lines.push('');
    lines.push(
      `Prices: committed table tools/operations/cost/prices.ts (as of ${asOfDates(sources).join(', ')}); list prices — verify against the AWS Price List API.`,
    );
  }
  return lines.join('\n');
}

export function main(argv: readonly string[]): number {
  let args: CostArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const { config, resources } = synthResources(args.stage);
  const result = estimate(resources, config.region);
  const budgetUsd = config.budget.monthlyLimitUsd;
  console.log(renderTable(args.stage, result));
  console.log(
    `\nBudget: ${money(budgetUsd)} a month (lib/config/stage-config.ts); the fixed cost at idle is ${Math.round((result.totalUsd / budgetUsd) * 100)} % of it${result.totalUsd > budgetUsd ? ' — OVER BUDGET before any usage' : ''}.`,
  );
  if (args.json) {
    console.log(
      JSON.stringify({
        stage: args.stage,
        region: result.region,
        hoursPerMonth: HOURS_PER_MONTH,
        totalUsd: Math.round(result.totalUsd * 100) / 100,
        budgetUsd,
        withinBudget: result.totalUsd <= budgetUsd,
        byService: Object.fromEntries(
          Object.entries(result.byService).map(([k, v]) => [k, Math.round(v * 100) / 100]),
        ),
        reference: REFERENCE_DEPLOYMENT,
        lineItems: result.lineItems,
        unpriced: result.unpriced,
        freeCount: result.free.length,
      }),
    );
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
