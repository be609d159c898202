// One way to run a hook-using component to its verdict, shared by the bundles
// (page_requests.jsx, newcomer.jsx, readme.jsx): render it into a fresh root until it
// calls done(observation), or report a timeout.
import { createRoot } from "react-dom/client";

/** Render <Component {...props} done={…}/> (inside wrap) until it calls done, or timeoutMs passes. */
export function renderUntilDone(Component, props, wrap = (x) => x, timeoutMs = 20_000) {
  return new Promise((resolve) => {
    const host = document.createElement("div");
    document.body.appendChild(host);
    const root = createRoot(host);
    let settled = false;
    const finish = (observation) => {
      if (settled) return;
      settled = true;
      setTimeout(() => { root.unmount(); host.remove(); resolve(observation); }, 0);
    };
    setTimeout(() => finish({ outcome: "timeout" }), timeoutMs);
    root.render(wrap(<Component {...props} done={finish} />));
  });
}
