// Builds the pages into ../assets (committed, embedded by the dispatch-web crate).
//
// Reproducible: names carry content hashes only, no timestamps; no source maps; the output
// directory can be redirected (DISPATCH_WEB_OUT) so CI can rebuild elsewhere and compare.
import { defineConfig } from "vite";

// Node's `process`, without pulling in @types/node for one line.
declare const process: { env: Record<string, string | undefined> };

const outDir = process.env.DISPATCH_WEB_OUT || "../assets";

export default defineConfig({
  base: "/",
  publicDir: "public",
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: false,
    // The whole app is one small script; no preload polyfill needed.
    modulePreload: { polyfill: false },
    rollupOptions: {
      // @microsoft/signalr's ESM build has /*#__PURE__*/ comments Rollup cannot place; harmless.
      onwarn(warning, warn) {
        if (warning.code === "INVALID_ANNOTATION" && warning.id?.includes("node_modules")) return;
        warn(warning);
      },
      output: {
        entryFileNames: "assets/app-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
  server: {
    // `npm run dev` against a running `dispatch serve` (default address).
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/hub": { target: "http://127.0.0.1:8080", ws: true },
    },
  },
});
