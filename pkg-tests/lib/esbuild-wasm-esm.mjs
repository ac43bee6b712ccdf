// An esbuild plugin for the WebAssembly ESM-integration import that wasm-bindgen's `bundler`
// target emits (`import * as wasm from "./x_bg.wasm"`): the wasm is copied next to the bundle
// and instantiated with its own imports, exports re-exported (what webpack/Vite plugins do).
import fs from 'node:fs';
import path from 'node:path';

export function wasmEsmIntegration() {
  return {
    name: 'wasm-esm-integration',
    setup(build) {
      build.onResolve({ filter: /\.wasm$/ }, (args) => ({ path: path.resolve(args.resolveDir, args.path), namespace: 'wasm-esm' }));
      build.onLoad({ filter: /.*/, namespace: 'wasm-esm' }, (args) => {
        const bytes = fs.readFileSync(args.path);
        const module = new WebAssembly.Module(bytes);
        const importModules = [...new Set(WebAssembly.Module.imports(module).map((i) => i.module))];
        const exportNames = WebAssembly.Module.exports(module).map((e) => e.name);
        const outdir = build.initialOptions.outdir || path.dirname(build.initialOptions.outfile);
        fs.mkdirSync(outdir, { recursive: true });
        const file = path.basename(args.path);
        fs.copyFileSync(args.path, path.join(outdir, file));
        const contents = [
          ...importModules.map((m, i) => `import * as __i${i} from ${JSON.stringify(m)};`),
          `const __imports = { ${importModules.map((m, i) => `${JSON.stringify(m)}: __i${i}`).join(', ')} };`,
          `const { instance } = await WebAssembly.instantiateStreaming(fetch(new URL(${JSON.stringify('./' + file)}, import.meta.url)), __imports);`,
          ...exportNames.map((n) => `export const ${n} = instance.exports[${JSON.stringify(n)}];`),
        ].join('\n');
        return { contents, resolveDir: path.dirname(args.path), loader: 'js' };
      });
    },
  };
}
