export { runScenario, type RunOptions, type RunResult } from './run-scenario.js';
export { gatewayYaml } from './gateway-yaml.js';
export { DeliveryTap } from './delivery-tap.js';
