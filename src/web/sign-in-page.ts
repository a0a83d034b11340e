/** The sign-in form: an API token, posted to /sign-in, kept in the cookie by the server. */
import { html } from "./html.js";
import type { SafeHtml } from "./html.js";
import { layout } from "./page-layout.js";
import type { WebAssets } from "./web-assets.js";

/** The page, with why the last attempt failed, if it did. */
export function signInPage(assets: WebAssets, problem: string | undefined): SafeHtml {
  return layout(
    assets,
    "Sign in",
    undefined,
    html`<section class="sign-in">
      <h1>Sign in</h1>
      <p>
        Paste an API token: one of <code>api.tokens</code> in jarvis.yml, or the local operator token jarvis
        printed at start (the <code>api-token</code> file under its state directory).
      </p>
      ${problem ? html`<p class="problem" id="sign-in-problem">${problem}</p>` : null}
      <form method="post" action="/sign-in">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required />
        <button type="submit" id="sign-in">Sign in</button>
      </form>
    </section>`,
  );
}
