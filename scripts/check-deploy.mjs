// Refuses a deploy that would ship the demo or a placeholder:
//   node scripts/check-deploy.mjs [--env NAME] [--config FILE]
// Reads the configuration as wrangler resolves it for that environment (wrangler's own
// unstable_readConfig) and fails (exit 1, every problem listed) when
//   - no environment is named: the top level of wrangler.toml is the demo;
//   - a KV namespace id is the placeholder (all zeros) or not a namespace id;
//   - an API origin, a JWKS URL or the log endpoint is on a loopback or unspecified address
//     (127.0.0.0/8, ::1, 0.0.0.0, localhost) or a reserved example name (example.com/.net/.org,
//     *.example, *.invalid, *.test, *.localhost): the demo's, or a placeholder never edited;
//   - the policy is missing.
// scripts/deploy.sh runs it before `wrangler deploy --env <NAME>`; scripts/build.sh runs it
// when wrangler deploys (not for --dry-run), so a plain `wrangler deploy` stops too.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

process.env.WRANGLER_SEND_METRICS ??= 'false';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const args = process.argv.slice(2);
const opt = (name, short) => {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name || (short && args[i] === short)) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
};
const env = opt('--env', '-e') || undefined;
const config = opt('--config', '-c') ?? path.join(REPO, 'wrangler.toml');

/** Why a URL may not be deployed, or null. */
export function placeholderHost(url) {
  let host;
  try {
    host = new URL(url).hostname.toLowerCase().replace(/^\[|\]$/g, '');
  } catch {
    return 'not a URL';
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return 'localhost';
  if (/^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === '0.0.0.0' || host === '::') {
    return 'a loopback address (the demo)';
  }
  if (/(^|\.)example\.(com|net|org)$/.test(host) || /\.(example|invalid|test)$/.test(host)) {
    return 'a reserved example name (a placeholder)';
  }
  return null;
}

export function problems(cfg, envName) {
  const out = [];
  if (!envName) {
    out.push(
      'no environment: the top level of wrangler.toml is the demo (origins on 127.0.0.1, a placeholder KV id); deploy with `bash scripts/deploy.sh` (wrangler deploy --env production)',
    );
  }
  for (const ns of cfg.kv_namespaces ?? []) {
    if (!/^[0-9a-f]{32}$/.test(ns.id ?? '') || /^0+$/.test(ns.id)) {
      out.push(
        `KV namespace ${ns.binding}: id ${JSON.stringify(ns.id ?? null)} is the placeholder; create one (npx wrangler kv namespace create ${ns.binding}${envName ? ` --env ${envName}` : ''}) and put its id in the configuration`,
      );
    }
  }
  let policy = cfg.vars?.POLICY;
  if (typeof policy === 'string') {
    try {
      policy = JSON.parse(policy);
    } catch {
      out.push('POLICY is not JSON');
      policy = undefined;
    }
  }
  if (!policy || typeof policy !== 'object') {
    out.push('no POLICY variable: the Worker would answer 500 to everything');
  } else {
    const check = (where, url) => {
      const why = placeholderHost(url);
      if (why) out.push(`${where} ${url} is ${why}`);
    };
    for (const [i, api] of (policy.apis ?? []).entries()) {
      const name = api?.name ?? `apis[${i}]`;
      check(`API ${name}: origin`, api?.origin);
      const chains = [api, ...(api?.resources ?? [])];
      for (const chain of chains) {
        for (const step of chain?.interceptors ?? []) {
          for (const iss of step?.issuers ?? []) {
            if (iss?.jwks_url) check(`API ${name}: issuer ${iss.issuer} jwks_url`, iss.jwks_url);
          }
        }
      }
    }
  }
  let logging = cfg.vars?.LOGGING;
  if (typeof logging === 'string') {
    try {
      logging = JSON.parse(logging);
    } catch {
      logging = undefined;
    }
  }
  if (logging?.endpoint) {
    const why = placeholderHost(logging.endpoint);
    if (why) out.push(`LOGGING endpoint ${logging.endpoint} is ${why}`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { unstable_readConfig } = await import('wrangler');
  let cfg;
  try {
    cfg = unstable_readConfig({ config, env }, { hideWarnings: true });
  } catch (e) {
    console.error(`check-deploy: cannot read ${config}${env ? ` (env ${env})` : ''}: ${e.message}`);
    process.exit(1);
  }
  if (env && !cfg.vars?.POLICY && !(cfg.kv_namespaces ?? []).length) {
    console.error(`check-deploy: no [env.${env}] in ${config}`);
    process.exit(1);
  }
  const found = problems(cfg, env);
  const what = env ? `environment ${env}` : 'the top level (the demo)';
  if (found.length) {
    console.error(`\n✘ REFUSING TO DEPLOY ${what} of ${config}:`);
    for (const p of found) console.error(`  - ${p}`);
    console.error('');
    process.exit(1);
  }
  console.error(`check-deploy: ${what} of ${config} has no placeholder left`);
}
