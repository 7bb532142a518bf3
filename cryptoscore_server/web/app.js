// The CryptoScore web page: one document, views chosen by the URL fragment.
//   #/                                   challenges
//   #/challenges/<id>                    a challenge: definition, trustees online, log head
//   #/challenges/<id>/leaderboard        ranked releases (?view=best|all&part=public|private&sort=<key>&dir=&page=)
//   #/challenges/<id>/submissions/<sha>  a submission as the public log shows it
//   #/challenges/<id>/audit              this browser's check of the log head; how to verify
// Everything shown comes from the public API (ui.js `api`); nothing is sent but GETs.

import { confusionOf, heatmap, intervalPlot } from "./charts.js";
import {
  allRows, api, badge, command, count, digest, facts, fraction, h, interval, time,
} from "./ui.js";
import { lastVerified, verifyLatestHead } from "./verify.js";

const main = document.getElementById("main");
const PAGE_SIZE = 25;
const enc = encodeURIComponent;

// -- routing ---------------------------------------------------------------------------------

function parseRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

/** Replace the URL's query (sort, page, view) without a new view render. */
function setParams(params) {
  const [path] = location.hash.split("?");
  const query = params.toString();
  history.replaceState(null, "", `${path}${query ? `?${query}` : ""}`);
}

const challengeHref = (id, rest = "") => `#/challenges/${enc(id)}${rest}`;

let routing = 0;

async function route() {
  const { parts, params } = parseRoute();
  let view;
  if (parts.length === 0) view = () => challengesPage();
  else if (parts[0] === "challenges" && parts.length === 2) view = () => challengePage(parts[1]);
  else if (parts[0] === "challenges" && parts[2] === "leaderboard" && parts.length === 3)
    view = () => leaderboardPage(parts[1], params);
  else if (parts[0] === "challenges" && parts[2] === "submissions" && parts.length === 4)
    view = () => submissionPage(parts[1], parts[3]);
  else if (parts[0] === "challenges" && parts[2] === "audit" && parts.length === 3)
    view = () => auditPage(parts[1]);
  else view = () => notFound();
  const mine = (routing += 1);
  main.replaceChildren(h("p", { class: "loading" }, "Loading…"));
  let content;
  try {
    content = await view();
  } catch (err) {
    content = errorView(err);
  }
  if (mine !== routing) return; // the reader moved on while this view loaded
  main.replaceChildren(...[content].flat().filter(Boolean));
  const title = main.querySelector("h1");
  document.title = title ? `${title.textContent} · CryptoScore` : "CryptoScore";
  if (title) {
    title.setAttribute("tabindex", "-1");
    title.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", route);
route();

function errorView(err) {
  return [
    h("h1", {}, err.status === 404 ? "Not found" : "Something went wrong"),
    h("p", { class: "error", role: "alert" }, err.message),
    h("p", {}, h("a", { href: "#/" }, "All challenges")),
  ];
}

function notFound() {
  return errorView({ status: 404, message: "This page does not exist." });
}

function crumbs(...links) {
  return h(
    "nav",
    { class: "crumbs", "aria-label": "Breadcrumb" },
    h("ol", {}, links.map(([text, href]) => h("li", {}, href ? h("a", { href }, text) : h("span", { "aria-current": "page" }, text)))),
  );
}

function tableRegion(label, table) {
  // a narrow screen scrolls the table, not the page; the region is keyboard-scrollable
  return h("div", { class: "table-scroll", role: "region", "aria-label": label, tabindex: "0" }, table);
}

// The Ladder (docs/design.md, "Ladder"): the rows' counts are shown counts, not exact ones.
function ladderText(rows, n) {
  const row = rows.find((r) => r.release === "ladder");
  if (!row) return [];
  return [
    " ",
    h("strong", {}, "Release: the Ladder, "),
    `margin ${count(row.ladder_margin)} of ${count(n)} items: a participant's shown count changes only when a submission beats it by more than the margin, so these are shown counts, not exact ones.`,
  ];
}

function metricsText(policy) {
  return policy.metrics.join(", ");
}

// -- challenges ------------------------------------------------------------------------------

async function challengesPage() {
  const { challenges } = await api("/challenges");
  const table = h(
    "table",
    {},
    h("caption", {}, `${count(challenges.length)} challenge${challenges.length === 1 ? "" : "s"}`),
    h("thead", {}, h("tr", {}, ["Challenge", "State", "Items", "Classes", "Released metrics", "Opens", "Closes"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      challenges.map((c) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, h("a", { href: challengeHref(c.id) }, c.name), h("div", { class: "muted" }, c.id)),
          h("td", {}, badge(c.state)),
          h("td", { class: "num" }, count(c.n_items)),
          h("td", { class: "num" }, count(c.classes)),
          h("td", {}, metricsText(c.policy)),
          h("td", {}, time(c.opens_at)),
          h("td", {}, time(c.closes_at)),
        ),
      ),
    ),
  );
  return [
    h("h1", {}, "Challenges"),
    h("p", { class: "lede" }, "Participants encrypt their predictions; scores are computed on ciphertexts and only the aggregates each challenge's policy names are ever decrypted, by a threshold of trustees. Every step is in a public log."),
    challenges.length ? tableRegion("Challenges", table) : h("p", {}, "No challenges yet."),
  ];
}

// -- a challenge -----------------------------------------------------------------------------

async function optional(promise) {
  try {
    return await promise;
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

async function challengePage(id) {
  const [c, presence, head] = await Promise.all([
    api(`/challenges/${enc(id)}`),
    api(`/challenges/${enc(id)}/trustees`),
    optional(api(`/challenges/${enc(id)}/log/head`)),
  ]);
  const online = presence.trustees.filter((t) => t.online).length;
  const trustees = h(
    "table",
    {},
    h("caption", {}, `Trustees: any ${presence.threshold} of ${presence.trustees.length} decrypt; ${online} online now (polled within ${presence.online_within} s)`),
    h("thead", {}, h("tr", {}, ["Trustee", "Index", "Status", "Last seen"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      presence.trustees.map((t) =>
        h(
          "tr",
          { "data-trustee": t.id },
          h("th", { scope: "row" }, t.id),
          h("td", { class: "num" }, t.index),
          h("td", {}, h("span", { class: `presence ${t.online ? "online" : "offline"}` }, t.online ? "online" : "offline")),
          h("td", {}, time(t.last_seen)),
        ),
      ),
    ),
  );
  const lookup = h(
    "form",
    {
      class: "lookup",
      onsubmit: (event) => {
        event.preventDefault();
        const value = lookup.querySelector("input").value.trim().toLowerCase();
        location.hash = challengeHref(id, `/submissions/${enc(value)}`);
      },
    },
    h("label", { for: "digest" }, "Look up a submission by its digest (from your receipt)"),
    h("div", { class: "inline" },
      h("input", { id: "digest", name: "digest", required: true, pattern: "[0-9a-fA-F]{64}", autocomplete: "off", spellcheck: "false", placeholder: "64 hex digits" }),
      h("button", { type: "submit" }, "Show")),
  );
  return [
    crumbs(["Challenges", "#/"], [c.name, null]),
    h("h1", {}, c.name),
    h("p", {}, badge(c.state), " ", h("code", {}, c.id)),
    c.description ? h("p", { class: "description" }, c.description) : null,
    h("nav", { class: "actions", "aria-label": "Challenge" },
      h("a", { class: "button", href: challengeHref(id, "/leaderboard") }, "Leaderboard"),
      h("a", { class: "button secondary", href: challengeHref(id, "/audit") }, "Audit the log")),
    h("section", { "aria-labelledby": "definition" },
      h("h2", { id: "definition" }, "Definition"),
      facts([
        ["Opens", time(c.opens_at)],
        ["Closes", time(c.closes_at)],
        ["Test items (n)", count(c.n_items)],
        ["Classes", count(c.classes)],
        ["Released metrics", metricsText(c.policy)],
        ["Released aggregates", `${count(c.policy.aggregates.length)} (${c.policy.aggregates.slice(0, 4).join(", ")}${c.policy.aggregates.length > 4 ? ", …" : ""})`],
        ["Submissions per day", count(c.submission_limit_per_day)],
        ["Parameter set", c.params],
        ["Key id", digest(c.key_id, 16)],
        ["Log key (Ed25519)", digest(c.log_key, 16)],
      ], "Challenge definition")),
    h("section", { "aria-labelledby": "trustees" },
      h("h2", { id: "trustees" }, "Trustees"),
      tableRegion("Trustees", trustees)),
    h("section", { "aria-labelledby": "log" },
      h("h2", { id: "log" }, "Transparency log"),
      head
        ? facts([
            ["Entries (tree size)", count(head.size)],
            ["Root hash", h("code", { class: "hash" }, head.root)],
            ["Signed at", time(head.timestamp_ms)],
          ], "Latest signed tree head")
        : h("p", {}, "The log has no signed head yet."),
      h("p", {}, h("a", { href: challengeHref(id, "/audit") }, "Check this head in your browser, and how to verify it yourself"))),
    h("section", { "aria-labelledby": "lookup" }, h("h2", { id: "lookup" }, "Your submission"), lookup),
  ];
}

// -- the leaderboard -------------------------------------------------------------------------

const COLUMNS = [
  { key: "rank", label: "Rank", num: true, value: (r) => r.rank, dir: "asc" },
  { key: "participant", label: "Participant", value: (r) => r.participant.toLowerCase(), dir: "asc" },
  { key: "accuracy", label: "Accuracy", num: true, value: (r) => r.accuracy, dir: "desc" },
  { key: "interval", label: "95% interval", num: true, value: (r) => r.accuracy_low, dir: "desc" },
  { key: "correct", label: "Correct", num: true, value: (r) => r.correct, dir: "desc" },
  { key: "errors", label: "Errors", num: true, value: (r) => r.n - r.correct, dir: "asc" },
  { key: "noise", label: "Expected error (±)", num: true, value: (r) => r.expected_abs_error, dir: "asc" },
  { key: "submitted", label: "Submitted", value: (r) => r.submitted_at, dir: "asc" },
];

// a dp challenge: which policy made the numbers, and what the noise costs
function releaseText(release) {
  if (!release || release.kind !== "dp") return null;
  const source = release.answers === "shamir"
    ? `the t = ${release.trustees} trustees add their shares of discrete Gaussian noise drawn for each of ${release.summed_draws} sets of trustees (σ = ${release.sigma.toFixed(2)} each)`
    : `each of the t = ${release.trustees} trustees adds discrete Gaussian noise (σ = ${release.sigma.toFixed(2)})`;
  return `Differential privacy: ${source} to every release, ρ = ${release.rho} per release (zCDP), at most ${release.releases_per_identity} releases per participant (budget ${release.budget}). Counts are noisy; the expected error is the Gaussian approximation of E|released − exact|, and the 95% interval is Wilson's with the noise variance added.`;
}

function sortRows(rows, key, dir) {
  const column = COLUMNS.find((c) => c.key === key) || COLUMNS[0];
  const sign = dir === "desc" ? -1 : 1;
  // stable: equal values keep the ranking's order
  return rows
    .map((row, i) => [row, i])
    .sort(([a, i], [b, j]) => {
      const va = column.value(a);
      const vb = column.value(b);
      return va < vb ? -sign : va > vb ? sign : i - j;
    })
    .map(([row]) => row);
}

async function leaderboardPage(id, params) {
  const c = await api(`/challenges/${enc(id)}`);
  const state = {
    view: params.get("view") === "all" ? "all" : "best",
    sort: COLUMNS.some((col) => col.key === params.get("sort")) ? params.get("sort") : "rank",
    dir: params.get("dir") === "desc" ? "desc" : "asc",
    page: Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1),
    // a split challenge: which part's scores (none: the service's default, public until the
    // close and private after)
    part: ["public", "private"].includes(params.get("part")) ? params.get("part") : null,
  };
  const boards = {};
  const key = (view) => `${view}:${state.part || ""}`;
  const load = async (view) => {
    const part = state.part ? `&part=${state.part}` : "";
    boards[key(view)] = boards[key(view)] || (await allRows(`/challenges/${enc(id)}/leaderboard?view=${view}${part}`));
    return boards[key(view)];
  };
  const first = await load(state.view);
  const split = first.split;
  const defaultPart = first.part;
  if (split && !state.part) {
    state.part = defaultPart;
    boards[key(state.view)] = first;
  }

  const body = h("div", { class: "board" });
  const toggle = h(
    "div",
    { class: "toggle", role: "group", "aria-label": "Which submissions" },
    [["best", "Best per participant"], ["all", "All submissions"]].map(([view, label]) =>
      h("button", {
        type: "button",
        "data-view": view,
        "aria-pressed": String(state.view === view),
        onclick: async () => {
          if (state.view === view) return;
          state.view = view;
          state.page = 1;
          for (const b of toggle.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.view === view));
          await load(view);
          render();
        },
      }, label),
    ),
  );

  const partToggle = split
    ? h(
        "div",
        { class: "toggle", role: "group", "aria-label": "Which part" },
        [["public", `Public part (${count(split.public_items)} items)`], ["private", `Private part (${count(split.private_items)} items)`]].map(([part, label]) =>
          h("button", {
            type: "button",
            "data-part": part,
            "aria-pressed": String(state.part === part),
            onclick: async () => {
              if (state.part === part) return;
              state.part = part;
              state.page = 1;
              for (const b of partToggle.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.part === part));
              await load(state.view);
              render();
            },
          }, label),
        ),
      )
    : null;
  const partLine = h("p", { class: "part" });

  function render(focusKey) {
    const board = boards[key(state.view)];
    const n = split ? split[`${state.part}_items`] : board.n_items;
    partLine.replaceChildren(
      ...(split
        ? [
            h("strong", {}, `${state.part === "public" ? "Public" : "Private"} part: `),
            `${count(n)} of ${count(board.n_items)} items; policy: ${metricsText(board.policy)}. `,
            state.part === "public"
              ? `Scores on the public items, released as submissions arrive${split.closed ? "" : " until the close"}; which items are public is secret.`
              : split.closed
                ? `Scores on the private items of each participant's ${split.finals === 1 ? "final submission" : `${split.finals} final submissions`}, released after the close.`
                : `Released after the close (${time(split.closes_at)}), for each participant's final submission${split.finals === 1 ? "" : "s"} only.`,
          ]
        : [h("strong", {}, "Policy: "), `${metricsText(board.policy)} on ${count(n)} items.`]),
      ...(releaseText(board.release)
        ? [" ", h("span", { class: "release-dp" }, releaseText(board.release))]
        : ladderText(board.rows, n).length
          ? ladderText(board.rows, n)
          : [h("span", { class: "release-exact" }, " Exact counts.")]),
    );
    // under the Ladder the rows show one count, correct: no errors column
    const hasErrors = board.policy.metrics.includes("errors") && !board.rows.some((r) => r.release === "ladder");
    const noised = board.release && board.release.kind === "dp";
    const columns = COLUMNS.filter((col) => (col.key !== "errors" || hasErrors) && (col.key !== "noise" || noised));
    const sorted = sortRows(board.rows, state.sort, state.dir);
    const pages = Math.max(1, Math.ceil(sorted.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages);
    const start = (state.page - 1) * PAGE_SIZE;
    const rows = sorted.slice(start, start + PAGE_SIZE);
    const query = new URLSearchParams();
    if (state.view !== "best") query.set("view", state.view);
    if (split && state.part !== defaultPart) query.set("part", state.part);
    if (state.sort !== "rank" || state.dir !== "asc") {
      query.set("sort", state.sort);
      query.set("dir", state.dir);
    }
    if (state.page > 1) query.set("page", String(state.page));
    setParams(query);

    const header = h("tr", {}, columns.map((col) => {
      const active = col.key === state.sort;
      const sortState = active ? (state.dir === "asc" ? "ascending" : "descending") : null;
      return h("th", { scope: "col", "aria-sort": sortState, class: col.num ? "num" : null },
        h("button", {
          type: "button",
          class: "sort",
          "data-sort": col.key,
          onclick: () => {
            if (state.sort === col.key) state.dir = state.dir === "asc" ? "desc" : "asc";
            else {
              state.sort = col.key;
              state.dir = col.dir;
            }
            state.page = 1;
            render(col.key);
          },
        }, col.label, h("span", { class: "arrow", "aria-hidden": "true" }, active ? (state.dir === "asc" ? " ▲" : " ▼") : " ↕")));
    }), h("th", { scope: "col" }, "Submission"));
    const cells = {
      rank: (r) => h("td", { class: "num" }, r.rank),
      participant: (r) => h("th", { scope: "row" }, r.participant),
      accuracy: (r) => h("td", { class: "num" }, fraction(r.accuracy)),
      interval: (r) => h("td", { class: "num" }, interval(r.accuracy_low, r.accuracy_high)),
      correct: (r) => h("td", { class: "num" }, count(r.correct)),
      errors: (r) => h("td", { class: "num" }, count(r.values.errors)),
      noise: (r) => h("td", { class: "num" }, `±${r.expected_abs_error.toFixed(2)}`),
      submitted: (r) => h("td", {}, time(r.submitted_at)),
    };
    const table = h(
      "table",
      { class: "leaderboard" },
      h("caption", {}, `${state.view === "best" ? "Each participant's best submission" : "Every released submission"}: ${count(board.total)} row${board.total === 1 ? "" : "s"}, accuracy out of n = ${count(n)} items${split ? ` (the ${state.part} part)` : ""}${board.complete ? "" : " (the first rows only)"}`),
      h("thead", {}, header),
      h("tbody", {}, rows.map((r) => h("tr", { "data-submission": r.submission, "data-part": r.part || null },
        columns.map((col) => cells[col.key](r)),
        h("td", {}, h("a", { href: challengeHref(id, `/submissions/${r.submission}`), "aria-label": `Submission ${r.submission.slice(0, 12)} by ${r.participant}` }, digest(r.submission)))))),
    );
    const pager = pages > 1
      ? h("nav", { class: "pager", "aria-label": "Leaderboard pages" },
          h("button", { type: "button", "data-page": "prev", disabled: state.page === 1, onclick: () => { state.page -= 1; render(); } }, "Previous"),
          h("span", { "aria-live": "polite" }, `Rows ${count(start + 1)}–${count(start + rows.length)} of ${count(sorted.length)} (page ${state.page} of ${pages})`),
          h("button", { type: "button", "data-page": "next", disabled: state.page === pages, onclick: () => { state.page += 1; render(); } }, "Next"))
      : null;
    const grids = rows.map((r) => [r, confusionOf(r.values, board.policy.classes)]).filter(([, grid]) => grid);
    body.replaceChildren(...[
      rows.length
        ? h("figure", { class: "plot" }, intervalPlot(rows, "Accuracy and its 95% interval", Math.max(300, Math.min(760, main.clientWidth - 56))),
            h("figcaption", {}, `Accuracy (dot) and its Wilson 95% interval (bar), rows as in the table below${pages > 1 ? " (this page)" : ""}. Overlapping intervals do not change the ranking: rows are ranked by their ${noised ? "released (noisy) counts" : "exact counts"}.`))
        : h("p", {}, "Nothing released yet."),
      rows.length ? tableRegion("Leaderboard", table) : null,
      pager,
      board.disputed && board.disputed.length
        ? h("section", { "aria-labelledby": "disputed" },
            h("h2", { id: "disputed" }, "Disputed (not ranked)"),
            h("p", {}, "The trustees' partial decryptions of these scores combined to numbers that break a release invariant (for example correct + errors ≠ n): some trustee answered wrongly, and nothing of them is released."),
            h("table", { class: "values" },
              h("thead", {}, h("tr", {}, ["Participant", "Submission", "State", "Invariant broken"].map((t) => h("th", { scope: "col" }, t)))),
              h("tbody", {}, board.disputed.map((d) => h("tr", {},
                h("td", {}, d.participant),
                h("td", {}, h("a", { href: challengeHref(id, `/submissions/${d.submission}`) }, digest(d.submission, 8))),
                h("td", {}, badge("disputed")),
                h("td", {}, h("code", {}, d.invariant)))))))
        : null,
      grids.length
        ? h("section", { "aria-labelledby": "confusion" },
            h("h2", { id: "confusion" }, "Confusion matrices"),
            h("p", {}, "Released by this challenge's policy. Rows are the true labels, columns the predictions; a cell's shade is its share of its label's items."),
            h("div", { class: "heatmaps" }, grids.map(([r, grid]) =>
              h("figure", { class: "heatmap-figure", "data-submission": r.submission },
                heatmap(grid, `Confusion matrix of ${r.participant} (rank ${r.rank})`),
                h("figcaption", {}, `${r.rank}. ${r.participant} — `, digest(r.submission, 8))))))
        : null,
    ].filter(Boolean));
    if (focusKey) body.querySelector(`button[data-sort="${focusKey}"]`)?.focus();
  }

  render();
  return [
    crumbs(["Challenges", "#/"], [c.name, challengeHref(id)], ["Leaderboard", null]),
    h("h1", {}, `Leaderboard: ${c.name}`),
    h("p", { class: "rule" }, h("strong", {}, "Ranking rule: "), first.ranking_rule, "."),
    partLine,
    h("p", { class: "muted" }, `The interval is the Wilson score ${Math.round(first.interval.level * 100)}% interval of accuracy = correct / n; it describes the sampling of the test items, not a test between two rows.`),
    partToggle,
    toggle,
    body,
  ];
}

// -- a submission ----------------------------------------------------------------------------

const CIRCUIT_STEP = { "noise/v1": "noise", "validity/v1": "validity", "score/v1": "score" };

function entryList(events) {
  return events.length ? `log ${events.length === 1 ? "entry" : "entries"} ${events.map((e) => `#${e.index}`).join(", ")}` : "";
}

function timeline(record, threshold) {
  const by = (type) => record.events.filter((e) => e.type === type);
  const requestsOf = (step) => by("request").filter((e) => CIRCUIT_STEP[e.circuit] === step);
  const partialsOf = (requests) => {
    const ids = new Set(requests.map((r) => r.request_id));
    return by("partial").filter((p) => ids.has(p.request_id));
  };
  const trusteesOf = (events) => [...new Set(events.map((e) => e.trustee))].sort().join(", ");
  const verdict = by("round1")[0];
  const invalid = verdict && verdict.verdict !== "valid";
  const step = (title, status, detail, events) => ({ title, status, detail, events });
  const decryption = (name, requests, what) => {
    const partials = partialsOf(requests);
    if (!requests.length) return step(name, "pending", `waits for ${what}`, []);
    return step(name, "done", `${count(requests.length)} decryption request${requests.length === 1 ? "" : "s"}; partial decryptions from ${trusteesOf(partials) || "no trustee yet"}`, [...requests, ...partials]);
  };
  const contributions = by("contribution");
  const steps = [
    step("Uploaded and logged", "done", ["by ", record.participant, record.logged_at ? [" at ", time(record.logged_at)] : ""], by("bundle")),
    contributions.length
      // every trustee of the bundle's pad set contributes: t or more (robust decoding asks them all)
      ? step("Round 1: trustee randomness", requestsOf("noise").length || contributions.length >= threshold ? "done" : "pending", `contributions from ${trusteesOf(contributions)} (${contributions.length})`, contributions)
      : step("Round 1: trustee randomness", "pending", "waits for the contributions of the bundle's pad set", []),
    decryption("Round 1: noise checks", requestsOf("noise"), "the contributions"),
    decryption("Round 1: validity check", requestsOf("validity"), "the noise checks"),
    verdict
      ? step("Round 1: verdict", invalid ? "failed" : "done", invalid ? ["invalid: ", verdict.reason || "no reason given"] : "valid: an honest encoding", [verdict])
      : step("Round 1: verdict", "pending", "not decided yet", []),
  ];
  if (invalid) {
    steps.push(step("Round 2: score", "skipped", "never run: nothing of an invalid submission is decrypted", []));
  } else {
    steps.push(decryption("Round 2: score decryption", requestsOf("score"), "a valid round 1 (and valid labels)"));
    const release = by("release")[0];
    const dispute = by("dispute")[0];
    steps.push(release
      ? step("Released", "done", "the policy's aggregates, below", [release])
      : dispute
        ? step("Disputed", "failed", ["nothing released: the combined values break ", h("code", {}, dispute.invariant), " (", dispute.reason, ")"], [dispute])
        : step("Released", "pending", "not yet", []));
  }
  return h("ol", { class: "timeline" }, steps.map((s) =>
    h("li", { class: `step ${s.status}` },
      h("span", { class: "step-status" }, s.status),
      h("strong", {}, s.title),
      h("p", {}, s.detail),
      s.events.length ? h("p", { class: "muted" }, entryList(s.events)) : null)));
}

function valuesTable(values, classes, noised) {
  const plain = Object.entries(values).filter(([k]) => !k.startsWith("confusion:"));
  const grid = confusionOf(values, classes);
  return [
    plain.length
      ? h("table", { class: "values" },
          h("caption", {}, noised ? "Released values (with the trustees' differential-privacy noise)" : "Released values (exact counts)"),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Aggregate"), h("th", { scope: "col", class: "num" }, "Count"))),
          h("tbody", {}, plain.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "num" }, count(v))))))
      : null,
    grid ? h("figure", { class: "heatmap-figure" }, heatmap(grid, "Confusion matrix"), h("figcaption", {}, "Confusion matrix: rows are the true labels, columns the predictions")) : null,
  ];
}

async function submissionPage(id, sha) {
  const [c, record] = await Promise.all([
    api(`/challenges/${enc(id)}`),
    api(`/challenges/${enc(id)}/log/submissions/${enc(sha)}`),
  ]);
  const origin = location.origin;
  return [
    crumbs(["Challenges", "#/"], [c.name, challengeHref(id)], ["Submission", null]),
    h("h1", {}, "Submission ", digest(sha, 12)),
    facts([
      ["Participant", record.participant],
      ["State", badge(record.state)],
      ...(record.reason ? [["Reason", record.reason]] : []),
      ...(record.invariant ? [["Invariant broken", h("code", {}, record.invariant)]] : []),
      ["Logged", record.logged_at ? time(record.logged_at) : "—"],
      ["Digest (SHA-256)", h("code", { class: "hash" }, sha)],
    ], "Submission"),
    h("section", { "aria-labelledby": "timeline" },
      h("h2", { id: "timeline" }, "Round 1 and round 2, from the log"),
      timeline(record, c.threshold)),
    record.values
      ? h("section", { "aria-labelledby": "values" }, h("h2", { id: "values" }, "Released"), valuesTable(record.values, c.classes, Boolean(c.rules && c.rules.dp)))
      : null,
    h("section", { "aria-labelledby": "receipt" },
      h("h2", { id: "receipt" }, "Receipt"),
      facts([
        ["Log entry", `#${record.bundle_index}`],
        ["Latest signed head", [`${count(record.tree_head.size)} entries, signed at `, time(record.tree_head.timestamp_ms)]],
      ], "Receipt"),
      h("p", {}, "The receipt you got on upload proves this entry is in the log. Check it, and that the latest log still contains it:"),
      command(`cryptoscore receipt verify receipt.json --service-key ${c.log_key} --server ${origin} --challenge ${id}`, "receipt verify")),
  ];
}

// -- the audit page --------------------------------------------------------------------------

async function auditPage(id) {
  const c = await api(`/challenges/${enc(id)}`);
  const before = lastVerified(id);
  const origin = location.origin;
  let result;
  try {
    result = await verifyLatestHead(id, c.log_key);
  } catch (err) {
    if (err.status !== 404) throw err;
    result = null;
  }
  const check = result
    ? h("section", { "aria-labelledby": "check" },
        h("h2", { id: "check" }, "This browser's check"),
        h("p", { class: `verdict ${result.ok ? "ok" : "bad"}`, role: "status" },
          result.ok ? "Verified: the latest head is signed by the log key and extends every head this browser saw before." : "Not verified — see below."),
        h("ul", { class: "checks" }, result.steps.map((s) =>
          h("li", { class: s.ok ? "ok" : "bad" }, h("strong", {}, `${s.ok ? "PASS" : "FAIL"} ${s.name}`), `: ${s.detail}`))),
        result.head
          ? facts([
              ["Tree size", count(result.head.size)],
              ["Root hash", h("code", { class: "hash" }, result.head.root)],
              ["Signed at", time(result.head.timestamp_ms)],
              ["Log id", h("code", {}, result.head.log_id)],
            ], "Latest head")
          : null,
        h("h3", {}, "Last verified head"),
        (() => {
          const last = result.ok ? lastVerified(id) : before;
          return last
            ? facts([
                ["Tree size", count(last.size)],
                ["Root hash", h("code", { class: "hash" }, last.root)],
                ["Head signed at", time(last.timestamp_ms)],
                ["Verified in this browser at", time(last.verified_at)],
              ], "Last verified head")
            : h("p", {}, "None yet.");
        })())
    : h("p", {}, "The log has no signed head yet.");
  return [
    crumbs(["Challenges", "#/"], [c.name, challengeHref(id)], ["Audit", null]),
    h("h1", {}, `Audit: ${c.name}`),
    h("p", {}, "The service signs the head of the challenge's append-only log (RFC 9162) with its log key. This page checks the signature and that the log only grew since your last visit. The log key it uses comes from this service: compare it with the one you got from the organizer."),
    facts([["Log key (Ed25519, hex)", h("code", { class: "hash" }, c.log_key)]], "Log key"),
    check,
    h("section", { "aria-labelledby": "yourself" },
      h("h2", { id: "yourself" }, "Verify it yourself"),
      h("p", {}, "With the command line (", h("code", {}, "pip install 'cryptoscore[cli]'"), "):"),
      h("h3", {}, "A participant holding a receipt"),
      h("p", {}, "Checks the receipt's signed head and inclusion proof, then that the latest head still contains the entry (a consistency proof):"),
      command(`cryptoscore receipt verify receipt.json --service-key ${c.log_key} --server ${origin} --challenge ${id}`, "receipt verify"),
      h("h3", {}, "An auditor"),
      h("p", {}, "Runs every named check over the audit bundle (the whole log, every logged object, every signed head): exit 0 when all pass and the rounds are done, 3 when all pass but work is in progress, 2 when a check fails."),
      command(`cryptoscore audit --server ${origin} --token-file aud.token --challenge ${id}`, "audit"),
      h("p", {}, "Or keep the bundle and audit the file, offline:"),
      command(`cryptoscore audit export --server ${origin} --token-file aud.token --challenge ${id} -o ${id}.audit.zip\ncryptoscore audit ${id}.audit.zip`, "audit export"),
      h("h3", {}, "Anyone"),
      h("p", {}, "The latest signed head, and a proof that it extends a head you kept (of size N):"),
      command(`curl -s ${origin}/api/v1/challenges/${id}/log/head\ncurl -s '${origin}/api/v1/challenges/${id}/log/consistency?from=N'`, "curl")),
  ];
}
