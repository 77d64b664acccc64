import type { CodegenConfig } from '@graphql-codegen/cli';

// Generates src/possible-types.ts, which is committed: the abstract types of
// the schema (Node, SessionEvent) and the object types implementing each, as
// Apollo Client's InMemoryCache (possibleTypes) and urql's Graphcache
// (possibleTypes) need them to match fragments on interfaces without
// guessing (Apollo prints a warning per guess in development).
//
//   npm run possible-types
//
// The Go test TestTSClientTypecheck/PossibleTypesUpToDate regenerates it into a
// temporary directory (POSSIBLE_TYPES_OUT) and fails when the committed file
// differs, so a schema change that adds an implementation fails CI until the
// file is regenerated. POSSIBLE_TYPES_SCHEMA overrides the schema (for that
// test's own proof that the check can fail).
const config: CodegenConfig = {
  schema: process.env.POSSIBLE_TYPES_SCHEMA ?? '../../schema.graphqls',
  generates: {
    [process.env.POSSIBLE_TYPES_OUT ?? 'src/possible-types.ts']: {
      plugins: ['fragment-matcher'],
      config: {
        useExplicitTyping: true,
      },
    },
  },
};

export default config;
