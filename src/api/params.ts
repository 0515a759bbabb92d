/**
 * The parameters of a request, read one way for every route that takes them:
 * the query string and the body (a form or a JSON object) as one map of value
 * lists. A parameter may come from either place; given in both with different
 * values it is refused, so that what is checked (companyKey) is what is used.
 */
import type { FastifyRequest } from 'fastify';
import { badParameter } from '../errors.ts';
import type { RawParams } from '../exports/request.ts';

/** Query string and body as one map; a parameter given in both places must have the same values in both. */
export function collectParams(req: FastifyRequest): RawParams {
  const out = paramsOf(req.query, 'query string');
  for (const [name, values] of Object.entries(paramsOf(req.body, 'request body'))) {
    const inQuery = out[name];
    if (inQuery === undefined) out[name] = values;
    else if (inQuery.length !== values.length || inQuery.some((v, i) => v !== values[i])) {
      throw badParameter(
        `${name} is ${shown(inQuery)} in the query string but ${shown(values)} in the body; give it in one place, or the same in both`,
      );
    }
  }
  return out;
}

function paramsOf(source: unknown, where: string): RawParams {
  // No prototype: a parameter named `constructor` or `__proto__` is just an unknown parameter.
  const out = Object.create(null) as RawParams;
  if (source === undefined || source === null || source === '') return out;
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw badParameter(`the ${where} must be an object of parameters (a form or a JSON object)`);
  }
  for (const [k, v] of Object.entries(source as Record<string, unknown>)) {
    const list: string[] = [];
    for (const item of Array.isArray(v) ? v : [v]) {
      if (item === null || item === undefined) continue;
      if (typeof item === 'object') throw badParameter(`${k} must be a string, number or boolean, or a list of them`);
      list.push(String(item as string | number | boolean));
    }
    if (list.length > 0) out[k] = list;
  }
  return out;
}

/** Values as the message shows them: quoted, long ones cut. */
function shown(values: readonly string[]): string {
  const one = (v: string) => `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  return values.length > 3 ? `${values.slice(0, 3).map(one).join(', ')}, …` : values.map(one).join(', ');
}
