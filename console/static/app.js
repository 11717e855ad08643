// The operator console in the browser: lot list (live over SSE), lot page, wafer page; plain DOM, no build step.

const main = document.getElementById("main");
const live = document.getElementById("live");
let classColours = {};
const IMAGE_STATUSES = ["defects_found", "clean", "unusable", "failed", "rejected"];

/** Builds an element; strings become text nodes, never HTML. */
function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "rect", "g", "title"].includes(tag) && attrs.svg !== false;
  const node = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false || name === "svg") continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok)
    throw new Error(body.error ? `${body.error.name}: ${body.error.message}` : response.statusText);
  return body;
}

async function getText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.text();
}

function age(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

/** Replaces the page's content; left-out parts (null, false) are skipped. */
function show(...nodes) {
  main.replaceChildren(
    ...nodes.flat().filter((node) => node !== null && node !== undefined && node !== false),
  );
}

const badge = (status) =>
  h("span", { class: `badge s-${status}` }, status.toLowerCase().replace("_", " "));
const lotHref = (lotId) => `/lots/${encodeURIComponent(lotId)}`;
const waferHref = (lotId, fileName) => `${lotHref(lotId)}/wafers/${encodeURIComponent(fileName)}`;

function byClass(defects) {
  const counts = {};
  for (const d of defects) counts[d.class] = (counts[d.class] ?? 0) + 1;
  return Object.entries(counts)
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
}

// ---- lot list --------------------------------------------------------------------------------

const seenLots = new Set();
let listShownOnce = false;

function renderList(lots) {
  const rows = lots.map((lot) => {
    const c = lot.counts;
    const fresh = listShownOnce && !seenLots.has(`${lot.lotId}:${lot.status}`);
    seenLots.add(`${lot.lotId}:${lot.status}`);
    return h(
      "tr",
      { "data-lot-id": lot.lotId, "data-status": lot.status, class: fresh ? "fresh" : undefined },
      h("td", {}, h("a", { href: lotHref(lot.lotId) }, lot.lotId)),
      h("td", {}, badge(lot.status)),
      h("td", { class: "num" }, c ? c.images : (lot.imageCount ?? "")),
      h("td", { class: "num" }, c ? c.withDefects : ""),
      h("td", { class: "num" }, c ? c.defects : ""),
      h("td", { class: "num" }, c ? `${c.unusable ?? 0} / ${c.failed} / ${c.rejected ?? 0}` : ""),
      h("td", {}, lot.metadata?.equipment ?? ""),
      h("td", {}, lot.metadata?.product ?? ""),
      h(
        "td",
        { "data-age": lot.startedAt ?? lot.updatedAt ?? "" },
        age(lot.startedAt ?? lot.updatedAt),
      ),
    );
  });
  listShownOnce = true;
  show(
    h("h1", {}, "Lots"),
    lots.length === 0
      ? h("p", { class: "meta" }, "No lot yet: drop a lot folder into the inbox.")
      : h(
          "table",
          { id: "lots" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, "Lot"),
              h("th", {}, "Status"),
              h("th", { class: "num" }, "Wafers"),
              h("th", { class: "num" }, "With defects"),
              h("th", { class: "num" }, "Defects"),
              h("th", { class: "num" }, "Unusable / failed / rejected"),
              h("th", {}, "Equipment"),
              h("th", {}, "Product"),
              h("th", {}, "Started"),
            ),
          ),
          h("tbody", {}, rows),
        ),
  );
}

async function showList() {
  document.title = "Lots - waferflow";
  renderList(await getJson("/api/lots"));
}

// ---- overlays --------------------------------------------------------------------------------

/** The overlay picture with one transparent, hoverable box per defect in original pixels. */
function overlay(image, options = {}) {
  if (!image.overlayKey || !image.width || !image.height) {
    return h(
      "div",
      { class: "overlay" },
      h("div", { class: "none" }, image.error ? image.error.message : "no picture"),
    );
  }
  const boxes = h(
    "svg",
    {
      class: "boxes",
      viewBox: `0 0 ${image.width} ${image.height}`,
      preserveAspectRatio: "none",
      "data-file": image.fileName,
    },
    image.defects.map((d, index) =>
      h(
        "rect",
        {
          class: "defect-box",
          "data-index": index,
          "data-class": d.class,
          x: d.bbox.x,
          y: d.bbox.y,
          width: d.bbox.width,
          height: d.bbox.height,
          onclick: options.onBox ? () => options.onBox(index) : undefined,
        },
        h(
          "title",
          {},
          `${d.class} (${d.score.toFixed(2)}) at ${d.waferMm.x.toFixed(1)}, ${d.waferMm.y.toFixed(1)} mm`,
        ),
      ),
    ),
  );
  return h(
    "div",
    { class: "overlay" },
    h("img", {
      src: `/files/${image.overlayKey}`,
      alt: `${image.fileName} with its defects boxed`,
      loading: "lazy",
    }),
    boxes,
  );
}

function classFilter(classes, onChange) {
  return classes.map((name) =>
    h(
      "label",
      {},
      h("input", {
        type: "checkbox",
        checked: true,
        value: name,
        "data-filter": "class",
        onchange: onChange,
      }),
      h("span", { class: "swatch", style: undefined, "data-colour": classColours[name] }),
      name,
    ),
  );
}

/** Swatch colours are set from script: the page's CSP refuses inline style attributes. */
function paintSwatches(root) {
  for (const swatch of root.querySelectorAll(".swatch[data-colour]")) {
    swatch.style.background = swatch.dataset.colour;
  }
}

// ---- lot page --------------------------------------------------------------------------------

/** A lot without a report yet is still being inspected: say so; the page follows it live. */
async function reportOrWait(lotId) {
  const response = await fetch(`/api/lots/${encodeURIComponent(lotId)}`);
  if (response.status === 404) {
    waitingFor = lotId;
    show(
      h("p", {}, h("a", { href: "/" }, "All lots")),
      h("h1", {}, `Lot ${lotId} `, badge("PROCESSING")),
      h(
        "p",
        { class: "meta" },
        "No report yet: this page shows the lot as soon as its report arrives.",
      ),
    );
    return undefined;
  }
  const body = await response.json();
  if (!response.ok) throw new Error(`${body.error?.name}: ${body.error?.message}`);
  waitingFor = undefined;
  return body;
}

let waitingFor;

async function showLot(lotId) {
  document.title = `Lot ${lotId} - waferflow`;
  const report = await reportOrWait(lotId);
  if (!report) return;
  const m = report.metadata ?? {};
  const c = report.counts;
  const classes = Object.entries(c.byClass)
    .filter(([, n]) => n > 0)
    .map(([name]) => name);
  const map = h("div", { class: "map", id: "wafer-map" }, "Loading the wafer map...");
  const cards = report.images.map((image, index) =>
    h(
      "div",
      {
        class: "card",
        "data-file": image.fileName,
        "data-status": image.status,
        "data-classes": [...new Set(image.defects.map((d) => d.class))].join(" "),
      },
      h(
        "a",
        { class: "title", href: waferHref(report.lotId, image.fileName) },
        `${index + 1}. ${image.fileName}`,
      ),
      " ",
      badge(image.status),
      h(
        "div",
        { class: "summary" },
        image.defects.length
          ? byClass(image.defects)
          : image.error
            ? `${image.error.name}`
            : "no defect",
      ),
      overlay(image),
    ),
  );
  const problems = report.images.filter((image) =>
    ["failed", "unusable", "rejected"].includes(image.status),
  );
  const apply = () => {
    const on = new Set(
      [...main.querySelectorAll("input[data-filter=class]:checked")].map((i) => i.value),
    );
    const status = main.querySelector("select[data-filter=status]").value;
    for (const card of main.querySelectorAll(".card")) {
      const cardClasses = card.dataset.classes ? card.dataset.classes.split(" ") : [];
      const classOk =
        cardClasses.length === 0 ? on.size === classes.length : cardClasses.some((k) => on.has(k));
      card.classList.toggle(
        "hidden",
        !(status === "all" || card.dataset.status === status) || !classOk,
      );
    }
    for (const el of main.querySelectorAll("[data-class]")) {
      if (el.tagName.toLowerCase() === "input") continue;
      el.classList.toggle("hidden", !on.has(el.dataset.class));
    }
  };
  const links = report.artifacts
    ? [
        h("a", { href: `/files/${report.reportKey}` }, "report.json"),
        h("a", { href: `/files/${report.artifacts.klarfKey}` }, "KLARF"),
        h("a", { href: `/files/${report.artifacts.waferMapKey}` }, "wafer map (SVG)"),
      ]
    : [h("a", { href: `/files/${report.reportKey}` }, "report.json")];
  show(
    h("p", {}, h("a", { href: "/" }, "All lots")),
    h("h1", {}, `Lot ${report.lotId} `, badge(report.status)),
    h(
      "div",
      { class: "meta" },
      [
        m.product && `Product ${m.product}`,
        m.equipment && `Equipment ${m.equipment}`,
        m.recipe && `Recipe ${m.recipe}`,
      ]
        .filter(Boolean)
        .join(" | ") || "No lot metadata",
      ` - completed ${new Date(report.completedAt).toLocaleString()}`,
    ),
    h(
      "div",
      { class: "meta", id: "lot-counts" },
      `${c.images} wafers: ${c.withDefects} with defects, ${c.clean} clean, ${c.unusable ?? 0} unusable, ${c.failed} failed, ${c.rejected ?? 0} rejected; ${c.defects} defects`,
    ),
    report.error
      ? h("p", { class: "error" }, `Lot error: ${report.error.name}: ${report.error.message}`)
      : null,
    h("div", { class: "links" }, links),
    h(
      "div",
      { class: "filters" },
      "Classes:",
      classFilter(classes, apply),
      h(
        "label",
        {},
        "Status:",
        h(
          "select",
          { "data-filter": "status", onchange: apply },
          h("option", { value: "all" }, "all"),
          IMAGE_STATUSES.map((s) => h("option", { value: s }, s)),
        ),
      ),
    ),
    problems.length
      ? h(
          "section",
          { id: "problems" },
          h("h2", {}, "Not inspected"),
          h(
            "ul",
            { class: "problems" },
            problems.map((image) =>
              h(
                "li",
                { "data-file": image.fileName },
                h("a", { href: waferHref(report.lotId, image.fileName) }, image.fileName),
                " ",
                badge(image.status),
                " ",
                image.error ? `${image.error.name}: ${image.error.message}` : "no reason given",
              ),
            ),
          ),
        )
      : null,
    h(
      "div",
      { class: "lot-layout" },
      h("div", {}, h("h2", {}, "Wafer map (all wafers)"), map),
      h("div", {}, h("h2", {}, "Wafers"), h("div", { class: "wafers" }, cards)),
    ),
  );
  paintSwatches(main);
  if (report.artifacts) {
    map.innerHTML = await getText(`/files/${report.artifacts.waferMapKey}`);
  } else {
    map.textContent = "No wafer map: the lot was not inspected.";
  }
}

// ---- wafer page ------------------------------------------------------------------------------

async function showWafer(lotId, fileName) {
  document.title = `${fileName} - lot ${lotId} - waferflow`;
  const report = await getJson(`/api/lots/${encodeURIComponent(lotId)}`);
  const slot = report.images.findIndex((image) => image.fileName === fileName);
  const image = report.images[slot];
  if (!image) throw new Error(`lot ${lotId} has no wafer ${fileName}`);
  const highlight = (index) => {
    for (const el of main.querySelectorAll(".hl")) el.classList.remove("hl");
    for (const el of main.querySelectorAll(`[data-index="${index}"]`)) el.classList.add("hl");
  };
  const map = h("div", { class: "map", id: "wafer-map" }, "Loading the wafer map...");
  const fmt = (n, digits = 1) => n.toFixed(digits);
  const rows = image.defects.map((d, index) =>
    h(
      "tr",
      { "data-index": index, "data-class": d.class, onmouseenter: () => highlight(index) },
      h("td", { class: "num" }, index + 1),
      h(
        "td",
        {},
        h("span", { class: "swatch", "data-colour": classColours[d.class] }),
        " ",
        d.class,
      ),
      h("td", { class: "num" }, fmt(d.score, 2)),
      h("td", {}, `${d.bbox.x}, ${d.bbox.y} (${d.bbox.width} x ${d.bbox.height})`),
      h("td", {}, `${fmt(d.centroidPx.x)}, ${fmt(d.centroidPx.y)}`),
      h("td", {}, `${fmt(d.waferMm.x, 2)}, ${fmt(d.waferMm.y, 2)}`),
      h("td", {}, d.die ? `r${d.die.row} c${d.die.col}` : "-"),
      h("td", { class: "num" }, Math.round(d.areaPx)),
    ),
  );
  show(
    h(
      "p",
      {},
      h("a", { href: "/" }, "All lots"),
      " / ",
      h("a", { href: lotHref(report.lotId) }, `Lot ${report.lotId}`),
    ),
    h("h1", {}, `Slot ${slot + 1}: ${image.fileName} `, badge(image.status)),
    image.error
      ? h("p", { class: "error", id: "reason" }, `${image.error.name}: ${image.error.message}`)
      : null,
    image.wafer
      ? h(
          "div",
          { class: "meta" },
          `${image.wafer.surface} wafer, ${image.wafer.diameterMm} mm, ${image.width} x ${image.height} px, notch at ${fmt(image.wafer.notchAngleDeg)} deg (${image.wafer.notchSource})`,
        )
      : null,
    h(
      "div",
      { class: "wafer-layout" },
      h("div", { id: "wafer-overlay" }, overlay(image, { onBox: highlight })),
      h("div", {}, h("h2", {}, "Wafer map"), map),
    ),
    h("h2", {}, `Defects (${image.defects.length})`),
    image.defects.length
      ? h(
          "table",
          { id: "defects" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              [
                "#",
                "Class",
                "Score",
                "Box px (x, y, w x h)",
                "Centroid px",
                "Wafer mm (x, y)",
                "Die",
                "Area px",
              ].map((t) => h("th", {}, t)),
            ),
          ),
          h("tbody", {}, rows),
        )
      : h("p", { class: "meta" }, image.status === "clean" ? "No defect found." : "Not inspected."),
  );
  paintSwatches(main);
  if (image.wafer) {
    map.innerHTML = await getText(
      `/api/lots/${encodeURIComponent(lotId)}/wafers/${encodeURIComponent(fileName)}/map.svg`,
    );
  } else {
    map.textContent = "No wafer map: the wafer was not inspected.";
  }
}

// ---- routing and live updates ----------------------------------------------------------------

async function route() {
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "lots" && parts[1] && parts[2] === "wafers" && parts[3])
      await showWafer(parts[1], parts[3]);
    else if (parts[0] === "lots" && parts[1]) await showLot(parts[1]);
    else await showList();
    document.body.dataset.ready = "true";
  } catch (error) {
    show(h("p", { class: "error" }, String(error.message ?? error)));
  }
}

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => {
    live.textContent = "live";
    live.classList.add("on");
  });
  source.addEventListener("error", () => {
    live.textContent = "reconnecting...";
    live.classList.remove("on");
  });
  source.addEventListener("lots", (event) => {
    const lots = JSON.parse(event.data);
    if (location.pathname === "/") renderList(lots);
    else if (
      waitingFor &&
      lots.some((lot) => lot.lotId === waitingFor && lot.status !== "PROCESSING")
    ) {
      void route();
    }
  });
}

setInterval(() => {
  for (const cell of document.querySelectorAll("[data-age]"))
    cell.textContent = age(cell.dataset.age);
}, 10_000);

classColours = await getJson("/api/classes").catch(() => ({}));
listen();
await route();
