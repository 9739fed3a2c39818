type Schema = Record<string, any>;

/**
 * A JSON Schema validator for the keywords the generated chain spec schema uses (local
 * `$ref`, type, const, enum, object/array/string/number bounds, pattern, the combinators
 * and if/then). Annotations (`default`, `format`, `description`) are ignored; an unknown
 * keyword throws so that a schema change cannot pass unchecked. Returns the failing paths.
 */
export function validateJsonSchema(root: Schema, value: unknown): string[] {
  const errors: string[] = [];
  check(root, root, value, '$', errors);
  return errors;
}

const IGNORED = new Set(['$schema', '$id', '$defs', 'title', 'description', 'default', 'format', 'then']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function check(root: Schema, s: Schema, v: unknown, at: string, errors: string[]): void {
  const fail = (why: string) => errors.push(`${at}: ${why}`);
  const ok = (sub: Schema, val: unknown, path = at) => {
    const inner: string[] = [];
    check(root, sub, val, path, inner);
    return inner;
  };
  for (const [key, arg] of Object.entries(s)) {
    const t = typeOf(v);
    switch (key) {
      case '$ref':
        check(root, root.$defs[decodeURIComponent(arg.replace('#/$defs/', ''))], v, at, errors);
        break;
      case 'type': {
        const types: string[] = Array.isArray(arg) ? arg : [arg];
        if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) fail(`type ${t}, want ${types.join('|')}`);
        break;
      }
      case 'const':
        if (v !== arg) fail(`not ${JSON.stringify(arg)}`);
        break;
      case 'enum':
        if (!arg.includes(v)) fail(`not in enum`);
        break;
      case 'properties':
        if (t === 'object') for (const [k, sub] of Object.entries(arg)) if (k in (v as object)) check(root, sub as Schema, (v as any)[k], `${at}.${k}`, errors);
        break;
      case 'required':
        if (t === 'object') for (const k of arg) if (!(k in (v as object))) fail(`missing ${k}`);
        break;
      case 'additionalProperties':
        if (t === 'object')
          for (const k of Object.keys(v as object)) {
            if (s.properties && k in s.properties) continue;
            if (arg === false) fail(`unexpected ${k}`);
            else check(root, arg, (v as any)[k], `${at}.${k}`, errors);
          }
        break;
      case 'propertyNames':
        if (t === 'object') for (const k of Object.keys(v as object)) check(root, arg, k, `${at}[key ${k}]`, errors);
        break;
      case 'items':
        if (t === 'array') (v as unknown[]).forEach((x, i) => check(root, arg, x, `${at}[${i}]`, errors));
        break;
      case 'minItems':
        if (t === 'array' && (v as unknown[]).length < arg) fail('too few items');
        break;
      case 'maxItems':
        if (t === 'array' && (v as unknown[]).length > arg) fail('too many items');
        break;
      case 'maxProperties':
        if (t === 'object' && Object.keys(v as object).length > arg) fail('too many properties');
        break;
      case 'minLength':
        if (t === 'string' && (v as string).length < arg) fail('too short');
        break;
      case 'maxLength':
        if (t === 'string' && (v as string).length > arg) fail('too long');
        break;
      case 'pattern':
        if (t === 'string' && !new RegExp(arg, 'u').test(v as string)) fail(`does not match ${arg}`);
        break;
      case 'minimum':
        if ((t === 'number' || t === 'integer') && (v as number) < arg) fail(`< ${arg}`);
        break;
      case 'maximum':
        if ((t === 'number' || t === 'integer') && (v as number) > arg) fail(`> ${arg}`);
        break;
      case 'exclusiveMinimum':
        if ((t === 'number' || t === 'integer') && (v as number) <= arg) fail(`<= ${arg}`);
        break;
      case 'allOf':
        for (const sub of arg) check(root, sub, v, at, errors);
        break;
      case 'anyOf':
        if (!arg.some((sub: Schema) => ok(sub, v).length === 0)) fail('matches no anyOf branch');
        break;
      case 'oneOf': {
        const n = arg.filter((sub: Schema) => ok(sub, v).length === 0).length;
        if (n !== 1) fail(`matches ${n} oneOf branches`);
        break;
      }
      case 'not':
        if (ok(arg, v).length === 0) fail('matches a `not` schema');
        break;
      case 'if':
        if (ok(arg, v).length === 0 && s.then !== undefined) check(root, s.then, v, at, errors);
        break;
      default:
        if (!IGNORED.has(key)) throw new Error(`JSON Schema keyword ${key} is not supported by the test validator`);
    }
  }
}
