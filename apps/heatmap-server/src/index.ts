export { configFromEnv, type Role, type ServerConfig } from './config.js';
