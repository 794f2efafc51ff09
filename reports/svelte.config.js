// Merged by Evidence into its own SvelteKit config (template/svelte.config.js, loadUserConfiguration).
// Template pages are prerendered only when linked; `make evidence` writes every template page URL,
// listed by the same frontmatter params_query the offline renderer uses, to .evidence-build/entries.json.
import fs from 'fs';
import path from 'path';
import { fileURLToPath } from 'url';

const here = path.dirname(fileURLToPath(import.meta.url));
const entriesFile = path.join(here, '.evidence-build', 'entries.json');
const entries = fs.existsSync(entriesFile) ? JSON.parse(fs.readFileSync(entriesFile, 'utf8')) : [];

/** @type {import('@sveltejs/kit').Config} */
export default {
	kit: {
		prerender: {
			entries: ['*', ...entries],
			// files published next to the pages by the pipeline (dbt docs; make evidence copies them to
			// static/ when the publication has them), not Evidence routes
			handleHttpError: ({ path: p, referrer, message }) => {
				if (p.startsWith('/dbt-docs/') || (referrer ?? '').startsWith('/dbt-docs/')) return;
				throw new Error(message);
			}
		}
	}
};
