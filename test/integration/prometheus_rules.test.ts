// The shipped Prometheus files (ops/prometheus) checked by Debian's promtool:
// the alert rules are valid, each alert's unit test in alerts.test.yml
// passes (firing where it should, silent on the near misses), and the
// example scrape configuration loads with them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { promtool } from '../helpers/prometheus.js';

const ops_dir = fileURLToPath(new URL('../../ops/prometheus/', import.meta.url));

describe('ops/prometheus with promtool', () => {
  it('alerts.yml passes promtool check rules', async () => {
    const r = await promtool(['check', 'rules', 'alerts.yml'], { cwd: ops_dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('every alert fires and stays silent as alerts.test.yml says (promtool test rules)', async () => {
    const r = await promtool(['test', 'rules', 'alerts.test.yml'], { cwd: ops_dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('alerts.test.yml shows every alert of alerts.yml firing', () => {
    const rules = readFileSync(`${ops_dir}alerts.yml`, 'utf8');
    const tests = readFileSync(`${ops_dir}alerts.test.yml`, 'utf8');
    const alerts = [...rules.matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]);
    expect(alerts.length).toBeGreaterThanOrEqual(9);
    // A test that expects the alert to fire names it beside exp_labels.
    for (const alert of alerts) expect(tests, alert).toMatch(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
  });

  it('the example prometheus.yml loads with the rules (promtool check config)', async () => {
    const r = await promtool(['check', 'config', 'prometheus.yml'], { cwd: ops_dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});
