import type { CodegenConfig } from '@graphql-codegen/cli';

// Generates two committed files from schema.graphqls:
//   - src/possible-types.ts: the abstract types of the schema (Node,
//     SessionEvent) and the object types implementing each, as Apollo
//     Client's InMemoryCache (possibleTypes) needs them to match fragments on
//     interfaces without guessing (Apollo prints a warning per guess in
//     development); graphql-codegen's fragment-matcher plugin;
//   - src/graphcache-schema.ts: the minified introspection urql's Graphcache
//     takes as `schema` (graphcache-schema.plugin.cjs).
//
//   npm run possible-types
//
// The Go test TestTSClientTypecheck/PossibleTypesUpToDate regenerates them into
// a temporary directory (POSSIBLE_TYPES_DIR) and fails when a committed file
// differs, so a schema change fails CI until the files are regenerated.
// POSSIBLE_TYPES_SCHEMA overrides the schema (for that test's own proof that
// the check can fail).
const out = process.env.POSSIBLE_TYPES_DIR ?? 'src';

const config: CodegenConfig = {
  schema: process.env.POSSIBLE_TYPES_SCHEMA ?? '../../schema.graphqls',
  generates: {
    [`${out}/possible-types.ts`]: {
      plugins: ['fragment-matcher'],
      config: {
        useExplicitTyping: true,
      },
    },
    [`${out}/graphcache-schema.ts`]: {
      plugins: ['./graphcache-schema.plugin.cjs'],
    },
  },
};

export default config;
