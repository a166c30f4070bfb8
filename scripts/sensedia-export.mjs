// Writes a synthetic Sensedia API Manager export for import timing:
//   node scripts/sensedia-export.mjs <tokens> <out-dir>
// → <out-dir>/apps.json (100 APPROVED apps, API "orders") and <out-dir>/tokens.json (<tokens>
// tokens spread over them: 90 % ACTIVE, 5 % REVOKED, 5 % EXPIRED, with expiredDate and extraInfo).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const n = Number(process.argv[2] ?? 100000);
const out = process.argv[3] ?? 'sensedia-export';
if (!Number.isInteger(n) || n < 1) throw new Error('usage: node scripts/sensedia-export.mjs <tokens> <out-dir>');
mkdirSync(out, { recursive: true });
const apps = [];
for (let i = 0; i < 100; i++) {
  apps.push({
    clientId: `bulk-app-${String(i).padStart(3, '0')}`,
    secret: `bulk-secret-${i}`,
    name: `Bulk App ${i}`,
    status: 'APPROVED',
    apis: [{ name: 'orders', version: '1.0' }],
    extraInfo: { index: i },
  });
}
const tokens = [];
for (let i = 0; i < n; i++) {
  const status = i % 20 === 0 ? 'REVOKED' : i % 20 === 1 ? 'EXPIRED' : 'ACTIVE';
  tokens.push({
    code: `bulk-token-${String(i).padStart(7, '0')}-${(i * 2654435761 >>> 0).toString(16)}`,
    app: { clientId: apps[i % 100].clientId },
    status,
    creationDate: '2025-01-01T00:00:00.000+0000',
    expiredDate: status === 'EXPIRED' ? '2025-02-01T00:00:00.000+0000' : '2099-01-01T00:00:00.000+0000',
    extraInfo: { n: i },
  });
}
writeFileSync(path.join(out, 'apps.json'), JSON.stringify(apps));
writeFileSync(path.join(out, 'tokens.json'), JSON.stringify(tokens));
console.log(`${out}/apps.json: ${apps.length} apps; ${out}/tokens.json: ${tokens.length} tokens`);
