// JavaScript lint for scripts/test.sh: esbuild bundles a call to a name that does not exist
// without complaint (a removed helper once stayed called in src/worker/authz_glue.js until an
// end-to-end test hit it), and `node --check` does not resolve names either. The recommended
// rules catch that (`no-undef`), unused names and unreachable code.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    ignores: ["build/**", "build-test/**", ".wrangler/**", "target/**", "node_modules/**", "fuzz/**", "**/wbg/**"],
  },
  js.configs.recommended,
  {
    rules: {
      // `catch {}` with a comment saying why is this codebase's way of ignoring an error.
      "no-empty": ["error", { allowEmptyCatch: true }],
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
    },
  },
  {
    // The Worker's own JavaScript and the benchmark's Workers run in workerd: the Workers
    // runtime's globals (fetch, Request, crypto, caches, ...), which are the browser's and a
    // service worker's, not Node's.
    files: ["src/**/*.js", "bench/workers/**/*.js"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      globals: { ...globals.serviceworker, ...globals.browser },
    },
  },
  {
    // Tests, benchmarks and scripts run in Node (some hand pages a function to the browser).
    files: ["**/*.mjs"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      globals: { ...globals.node },
    },
  },
];
