// The subset of CloudWatch metric math the signals use, evaluated over aligned periods.
// Hand-written because no library implements CloudWatch metric math; it is deliberately tiny
// (identifiers, numbers, + - * /, parentheses, FILL(x, n), MAX([a, b, ...])) and throws on
// anything else, so a new expression in lib/config/signals.ts fails a unit test, not the page.
//
// Semantics, following CloudWatch: an identifier is a time series with a value in some periods;
// arithmetic between two time series has a value only where both have one; a number combines
// with every period; FILL(x, n) gives x's value or n in every period; MAX([...]) is the largest
// present value per period. Division by zero (and any non-finite result) yields no value.

export type MathNode =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'metric'; readonly id: string }
  | { readonly kind: 'negate'; readonly operand: MathNode }
  | {
      readonly kind: 'binary';
      readonly op: '+' | '-' | '*' | '/';
      readonly left: MathNode;
      readonly right: MathNode;
    }
  | { readonly kind: 'fill'; readonly series: MathNode; readonly value: number }
  | { readonly kind: 'max'; readonly items: readonly MathNode[] };

export class MetricMathError extends Error {
  constructor(expression: string, position: number, message: string) {
    super(`metric math "${expression}" at ${position}: ${message}`);
    this.name = 'MetricMathError';
  }
}

type Token =
  | { readonly type: 'number'; readonly value: number; readonly pos: number }
  | { readonly type: 'ident'; readonly value: string; readonly pos: number }
  | { readonly type: 'punct'; readonly value: string; readonly pos: number }
  | { readonly type: 'end'; readonly pos: number };

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  const number = /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const ident = /[A-Za-z_][A-Za-z0-9_]*/y;
  let pos = 0;
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = pos;
    return re.exec(expression)?.[0];
  };
  while (pos < expression.length) {
    const ch = expression[pos] as string;
    if (/\s/.test(ch)) {
      pos++;
      continue;
    }
    const num = match(number);
    if (num !== undefined) {
      tokens.push({ type: 'number', value: Number(num), pos });
      pos += num.length;
      continue;
    }
    const id = match(ident);
    if (id !== undefined) {
      tokens.push({ type: 'ident', value: id, pos });
      pos += id.length;
      continue;
    }
    if (!'+-*/()[],'.includes(ch)) {
      throw new MetricMathError(expression, pos, `unsupported character "${ch}"`);
    }
    tokens.push({ type: 'punct', value: ch, pos });
    pos++;
  }
  tokens.push({ type: 'end', pos: expression.length });
  return tokens;
}

/**
 * Parses an expression and checks that every identifier is one of `metricIds`.
 * Throws MetricMathError on any syntax outside the supported subset.
 */
export function parseMetricMath(expression: string, metricIds: readonly string[]): MathNode {
  const tokens = tokenize(expression);
  let i = 0;
  const peek = (): Token => tokens[i] as Token;
  const fail = (message: string, token: Token = peek()): never => {
    throw new MetricMathError(expression, token.pos, message);
  };
  const describe = (t: Token): string => (t.type === 'end' ? 'end of expression' : `"${t.value}"`);
  const isPunct = (value: string): boolean => {
    const t = peek();
    return t.type === 'punct' && t.value === value;
  };
  const expect = (value: string): void => {
    if (!isPunct(value)) fail(`expected "${value}", found ${describe(peek())}`);
    i++;
  };

  // expression := term (('+' | '-') term)*
  const parseExpression = (): MathNode => {
    let node = parseTerm();
    while (isPunct('+') || isPunct('-')) {
      const op = (peek() as { value: '+' | '-' }).value;
      i++;
      node = { kind: 'binary', op, left: node, right: parseTerm() };
    }
    return node;
  };
  // term := unary (('*' | '/') unary)*
  const parseTerm = (): MathNode => {
    let node = parseUnary();
    while (isPunct('*') || isPunct('/')) {
      const op = (peek() as { value: '*' | '/' }).value;
      i++;
      node = { kind: 'binary', op, left: node, right: parseUnary() };
    }
    return node;
  };
  const parseUnary = (): MathNode => {
    if (isPunct('-')) {
      i++;
      return { kind: 'negate', operand: parseUnary() };
    }
    return parsePrimary();
  };
  const parseSignedNumber = (what: string): number => {
    const negative = isPunct('-');
    if (negative) i++;
    const t = peek();
    if (t.type !== 'number') return fail(`${what} must be a number, found ${describe(t)}`);
    i++;
    return negative ? -t.value : t.value;
  };
  const parsePrimary = (): MathNode => {
    const t = peek();
    if (t.type === 'number') {
      i++;
      return { kind: 'number', value: t.value };
    }
    if (t.type === 'punct' && t.value === '(') {
      i++;
      const inner = parseExpression();
      expect(')');
      return inner;
    }
    if (t.type === 'ident') {
      i++;
      if (!isPunct('(')) {
        if (!metricIds.includes(t.value)) {
          fail(`unknown metric id "${t.value}" (known: ${metricIds.join(', ') || 'none'})`, t);
        }
        return { kind: 'metric', id: t.value };
      }
      i++;
      if (t.value === 'FILL') {
        const series = parseExpression();
        expect(',');
        const value = parseSignedNumber('FILL value (REPEAT, LINEAR and series are unsupported)');
        expect(')');
        return { kind: 'fill', series, value };
      }
      if (t.value === 'MAX') {
        if (!isPunct('[')) {
          fail('MAX takes an array [a, b, ...]; MAX of one series (a scalar) is unsupported');
        }
        i++;
        const items = [parseExpression()];
        while (isPunct(',')) {
          i++;
          items.push(parseExpression());
        }
        expect(']');
        expect(')');
        return { kind: 'max', items };
      }
      return fail(`unsupported function ${t.value}() (supported: FILL, MAX)`, t);
    }
    return fail(`unexpected ${describe(t)}`);
  };

  const node = parseExpression();
  if (peek().type !== 'end') fail(`unexpected ${describe(peek())} after the expression`);
  return node;
}

/** A value per aligned period; undefined where the series has no datapoint. */
export type AlignedSeries = readonly (number | undefined)[];

type Value = { readonly scalar: number } | { readonly series: AlignedSeries };

const finiteOrUndefined = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);

function apply(op: '+' | '-' | '*' | '/', a: number, b: number): number | undefined {
  switch (op) {
    case '+':
      return finiteOrUndefined(a + b);
    case '-':
      return finiteOrUndefined(a - b);
    case '*':
      return finiteOrUndefined(a * b);
    case '/':
      return b === 0 ? undefined : finiteOrUndefined(a / b);
  }
}

/**
 * Evaluates a parsed expression over `length` aligned periods. `metrics` gives each identifier's
 * aligned series. A result that is a plain number applies to every period.
 */
export function evaluateMetricMath(
  node: MathNode,
  metrics: Readonly<Record<string, AlignedSeries>>,
  length: number,
): AlignedSeries {
  const asSeries = (v: Value): AlignedSeries =>
    'series' in v ? v.series : Array.from({ length }, () => finiteOrUndefined(v.scalar));
  const at = (v: Value, index: number): number | undefined =>
    'series' in v ? v.series[index] : v.scalar;

  const evaluate = (n: MathNode): Value => {
    switch (n.kind) {
      case 'number':
        return { scalar: n.value };
      case 'metric': {
        const series = metrics[n.id];
        if (series === undefined) throw new Error(`no series for metric id "${n.id}"`);
        if (series.length !== length) {
          throw new Error(`series "${n.id}" has ${series.length} periods, expected ${length}`);
        }
        return { series };
      }
      case 'negate': {
        const v = evaluate(n.operand);
        if ('scalar' in v) return { scalar: -v.scalar };
        return { series: v.series.map((x) => (x === undefined ? undefined : -x)) };
      }
      case 'binary': {
        const left = evaluate(n.left);
        const right = evaluate(n.right);
        if ('scalar' in left && 'scalar' in right) {
          return { scalar: apply(n.op, left.scalar, right.scalar) ?? Number.NaN };
        }
        return {
          series: Array.from({ length }, (_, k) => {
            const a = at(left, k);
            const b = at(right, k);
            return a === undefined || b === undefined ? undefined : apply(n.op, a, b);
          }),
        };
      }
      case 'fill':
        return { series: asSeries(evaluate(n.series)).map((x) => x ?? n.value) };
      case 'max': {
        const items = n.items.map(evaluate);
        return {
          series: Array.from({ length }, (_, k) => {
            let best: number | undefined;
            for (const item of items) {
              const v = at(item, k);
              if (v !== undefined && !Number.isNaN(v) && (best === undefined || v > best)) best = v;
            }
            return best;
          }),
        };
      }
    }
  };
  return asSeries(evaluate(node));
}
