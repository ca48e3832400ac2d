#!/usr/bin/env node
// Second step of `npm start`: bundle the server (a fraction of a second; see buildServer.mjs).
import path from 'node:path'
import { buildServer } from './buildServer.mjs'

await buildServer(path.resolve(import.meta.dirname, '..'))
