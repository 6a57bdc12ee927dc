// tsc compiles TypeScript only; the SQL migrations are read at run time from beside the compiled migrate.js.
import { cpSync } from 'node:fs';

cpSync('src/db/migrations', 'dist/src/db/migrations', { recursive: true });
