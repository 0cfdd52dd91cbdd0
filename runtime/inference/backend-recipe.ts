import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BackendRecipe, InferenceBackend } from '../../models/engine/engine.js';
import { isBackendPlugin } from './backend-plugin.js';

/** A worker thread could not build the gateway's backend (its module, its plug-in, its section or its `create` failed). */
export class BackendRecipeError extends Error {
  readonly code = 'E_BACKEND_WORKER';
}

/**
 * The URL a worker thread can import for `url`: itself, except for a TypeScript source of this
 * package (the test runner runs sources, which a worker thread cannot load), which maps to its
 * compiled twin in dist/.
 */
export function importableUrl(url: string): string {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return url;
  const path = fileURLToPath(url);
  let root = dirname(path);
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  return pathToFileURL(join(root, 'dist', relative(root, path)).replace(/\.ts$/, '.js')).href;
}

/**
 * Builds the backend a recipe names, in the thread that calls it (a worker): imports the
 * plug-in's module, finds the plug-in of that name among its exports, validates the section
 * again and creates the backend at once, so that a backend that cannot be built here says so
 * before any model is loaded.
 */
export async function backendFromRecipe(recipe: BackendRecipe): Promise<InferenceBackend> {
  let exports: Record<string, unknown>;
  try {
    exports = (await import(importableUrl(recipe.module))) as Record<string, unknown>;
  } catch (err) {
    throw new BackendRecipeError(`the ${recipe.name} backend's module ${recipe.module} could not be imported: ${(err as Error).message}`, { cause: err });
  }
  const plugin = Object.values(exports).find((e) => isBackendPlugin(e) && e.name === recipe.name);
  if (plugin === undefined || !isBackendPlugin(plugin)) throw new BackendRecipeError(`${recipe.module} exports no backend plug-in named ${recipe.name}`);
  const section = plugin.validate(recipe.config);
  if (section.error !== undefined) throw new BackendRecipeError(`the ${recipe.name} backend refuses its inference section in a worker thread: ${section.error.map((e) => `${e.instancePath === '' ? '/' : e.instancePath} ${e.message ?? e.keyword}`).join('; ')}`);
  try {
    return await plugin.create(section.value);
  } catch (err) {
    throw new BackendRecipeError(`the ${recipe.name} backend could not start in a worker thread: ${(err as Error).message}`, { cause: err });
  }
}
