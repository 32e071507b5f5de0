// Accessibility audit of sitewatch's HTML: axe-core's WCAG 2.0, 2.1 and 2.2 A/AA rules (and, counted apart, its
// best-practice rules) on the report and every kind of dashboard page, at 1400 px, at 420 px and at
// 200 % zoom; then the keyboard: Tab through each page, recording every stop, whether it shows a focus
// ring, and stops that are doubled (a focusable box around a focusable element filling it).
//
// Dev tool only: not part of the package, the tests or CI. Tools, outside the repository:
//   apt-get install -y chromium                       # /usr/bin/chromium
//   mkdir -p /tmp/axe && cd /tmp/axe && npm init -y && npm install axe-core playwright-core
// Run (with a demo workspace and its dashboard running):
//   sitewatch demo --out /tmp/a11y-demo
//   cd /tmp/a11y-demo && sitewatch serve --port 8765 --ais ais/simulated-ais.csv &
//   NODE_PATH=/tmp/axe/node_modules node benchmarks/a11y_audit.mjs \
//       --report /tmp/a11y-demo/report.html --base http://127.0.0.1:8765 --out /tmp/axe/out
// Prints violations per page by rule (axe counts nodes) and the keyboard findings; writes JSON and
// screenshots of focused elements to --out.

import { createRequire } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(join(process.env.NODE_PATH || process.cwd(), "x.js"));
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const out = args.out || "/tmp/axe/out";
mkdirSync(out, { recursive: true });
const maxTabs = Number(args["max-tabs"] || 400);

const VIEWS = [
  { name: "1400", viewport: { width: 1400, height: 900 }, scale: 1 },
  { name: "420", viewport: { width: 420, height: 860 }, scale: 1 },
  // Browser zoom at 200 % on a 1400 px window lays the page out in 700 CSS px at two device pixels each.
  { name: "zoom200", viewport: { width: 700, height: 450 }, scale: 2 },
];

async function dashboardPages(base) {
  const get = async (p) => (await fetch(base + p)).json();
  const q = (s) => s.split("/").map(encodeURIComponent).join("/");
  const pages = [["index", "/"], ["links", "/links"]];
  // /api/sites pages its list ({"sites": [...], "next": ...}) since the port lists; an older dashboard gave the list.
  const listed = await get("/api/sites");
  for (const s of Array.isArray(listed) ? listed : listed.sites) {
    pages.push([`site ${s.id}`, `/sites/${q(s.id)}`]);
    const site = await get(`/api/sites/${q(s.id)}`);
    const obs = site.observations || [];
    if (obs.length) {
      const most = obs.reduce((a, b) => (b.detections > a.detections ? b : a));
      if (most.detections) pages.push([`observation ${most.id}`, `/observations/${q(most.id)}`]);
      const none = obs.find((o) => !o.detections);
      if (none) pages.push([`observation ${none.id} (none)`, `/observations/${q(none.id)}`]);
    }
    const pairs = await get(`/api/sites/${q(s.id)}/changes`);
    const withRegions = pairs.find((p) => p.counts.appeared + p.counts.disappeared + p.counts.altered > 0);
    const empty = pairs.find((p) => p.counts.appeared + p.counts.disappeared + p.counts.altered === 0);
    if (withRegions) pages.push([`pair ${withRegions.id}`, `/changes/${q(withRegions.id)}`]);
    if (empty) pages.push([`pair ${empty.id} (none)`, `/changes/${q(empty.id)}`]);
  }
  pages.push(["error 404 site", "/sites/no-such-site"], ["error 404 path", "/no/such/page"]);
  return pages.map(([name, p]) => [name, base + p]);
}

async function runAxe(page) {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const tally = (list) => Object.fromEntries(list.map((v) => [v.id, v.nodes.length]));
    const detail = (list) => list.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 8).map((n) => ({ target: n.target, summary: n.failureSummary })) }));
    const wcag = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] }, resultTypes: ["violations"] });
    const bp = await axe.run(document, { runOnly: { type: "tag", values: ["best-practice"] }, resultTypes: ["violations"] });
    return { wcag: tally(wcag.violations), best: tally(bp.violations), detail: detail([...wcag.violations, ...bp.violations]) };
  });
}

// Tab from the top of the page; each stop: what it is, whether a focus indicator is drawn, and whether
// it is a box whose only focusable content fills it (a second stop on the same thing).
async function tabThrough(page, label) {
  await page.evaluate(() => { window.scrollTo(0, 0); document.activeElement?.blur(); });
  const stops = [];
  const seen = new Set();
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press("Tab");
    const s = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      if (!e.dataset.a11yStop) e.dataset.a11yStop = String(document.querySelectorAll("[data-a11y-stop]").length);
      const cs = getComputedStyle(e);
      const ring = (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0) || (cs.boxShadow && cs.boxShadow !== "none");
      // A doubled stop: focusable, and the only element in a focusable box (the box and it are one thing).
      const parent = e.parentElement;
      const parentStop = parent && parent.getAttribute("tabindex") === "0" && parent.children.length === 1 ? parent.dataset.a11yStop : null;
      const r = e.getBoundingClientRect();
      const scrolls = e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1;
      return {
        n: e.dataset.a11yStop, tag: e.tagName.toLowerCase(), cls: e.className || "", tabindex: e.getAttribute("tabindex"),
        text: (e.getAttribute("aria-label") || e.textContent || e.getAttribute("alt") || "").trim().replace(/\s+/g, " ").slice(0, 50),
        ring, outline: `${cs.outlineStyle} ${cs.outlineWidth}`, scrolls,
        nestedIn: parentStop || null, size: [Math.round(r.width), Math.round(r.height)],
      };
    });
    if (!s) break;
    // Tab inside a date field moves between its day, month and year: the same element again, not a wrap.
    if (stops.length && stops[stops.length - 1].n === s.n) continue;
    if (seen.has(s.n)) break; // wrapped round
    seen.add(s.n);
    stops.push(s);
  }
  const boxes = stops.filter((s) => s.tabindex === "0");
  const doubled = stops.filter((s) => s.nestedIn && stops.some((p) => p.n === s.nestedIn && p.tabindex === "0") && s.tabindex === "0");
  const noRing = stops.filter((s) => !s.ring);
  const idle = boxes.filter((s) => !s.scrolls);
  return { label, count: stops.length, truncated: stops.length >= maxTabs, doubled: doubled.length, noRing: noRing.length, idleBoxes: idle.length, boxes: boxes.length, stops };
}

async function pageFacts(page) {
  return page.evaluate(() => ({
    pageScrollsSideways: document.documentElement.scrollWidth > document.documentElement.clientWidth + 1,
    scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
    charts: [...document.querySelectorAll(".chart")].map((c) => ({ overflows: c.scrollWidth > c.clientWidth + 1, hint: !!c.parentElement.querySelector(".scroll-hint") && getComputedStyle(c.parentElement.querySelector(".scroll-hint")).display !== "none" })),
  }));
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const pages = [];
if (args.report) pages.push(["report", pathToFileURL(args.report).href]);
if (args.base) pages.push(...(await dashboardPages(args.base)));
const results = [];
const views = args.views ? VIEWS.filter((v) => args.views.split(",").includes(v.name)) : VIEWS;
for (const view of views) {
  // The dashboard sends a Content-Security-Policy (no script at all): axe is injected past it, as a dev tool may.
  const ctx = await browser.newContext({ viewport: view.viewport, deviceScaleFactor: view.scale, bypassCSP: true });
  for (const [name, url] of pages) {
    const page = await ctx.newPage();
    const resp = await page.goto(url, { waitUntil: "load", timeout: 120000 });
    const axeResult = await runAxe(page);
    const facts = await pageFacts(page);
    const keys = view.name === "1400" || args["keys-all"] ? await tabThrough(page, name) : null;
    if (keys && keys.stops.length) {
      // A few focus rings as pictures: the first stop, the first box, the first link in a table.
      const firstBox = keys.stops.find((s) => s.tabindex === "0");
      const picks = [keys.stops[0], firstBox, firstBox && keys.stops.find((s) => s.tag === "a" && Number(s.n) > Number(firstBox.n))].filter(Boolean);
      for (const s of picks) {
        const el = await page.$(`[data-a11y-stop="${s.n}"]`);
        await el.focus();
        await page.keyboard.press("Shift+Tab"); await page.keyboard.press("Tab"); // keyboard focus, so :focus-visible
        await el.evaluate((e) => e.scrollIntoView({ block: "center" }));
        const box = await el.boundingBox();
        if (box) {
          const vp = page.viewportSize();
          const x = Math.max(0, box.x - 12), y = Math.max(0, box.y - 12);
          const clip = { x, y, width: Math.min(box.width + 24, vp.width - x, 900), height: Math.min(box.height + 24, vp.height - y, 300) };
          await page.screenshot({ path: join(out, `focus-${name.replace(/[^a-z0-9]+/gi, "_").slice(0, 40)}-${s.n}.png`), clip }).catch(() => {});
        }
      }
    }
    results.push({ view: view.name, name, url, status: resp && resp.status(), ...axeResult, facts, keys });
    await page.close();
  }
  await ctx.close();
}
await browser.close();
writeFileSync(join(out, "results.json"), JSON.stringify(results, null, 1));

for (const r of results) {
  const w = Object.entries(r.wcag).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const b = Object.entries(r.best).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const f = r.facts;
  const chart = f.charts.length ? ` charts overflow ${f.charts.filter((c) => c.overflows).length}/${f.charts.length}, hinted ${f.charts.filter((c) => c.overflows && c.hint).length}` : "";
  console.log(`[${r.view}] ${r.name} (${r.status}): WCAG ${w} | best-practice ${b} | page sideways ${f.pageScrollsSideways}${chart}`);
  if (r.keys) console.log(`    keys: ${r.keys.count} stops${r.keys.truncated ? "+" : ""}, ${r.keys.boxes} boxes (tabindex=0), ${r.keys.doubled} doubled, ${r.keys.idleBoxes} boxes that do not scroll, ${r.keys.noRing} without a focus ring`);
}
