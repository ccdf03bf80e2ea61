#!/usr/bin/env node
// The installed `hcp` command runs the compiled CLI (npm run build). In a checkout, use `npm run hcp --`.
import '../dist/bridge/cli/main.js';
