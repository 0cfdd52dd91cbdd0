export { CapacityError, FOOTPRINT, HEADROOM, capacityCheck, estimateNeeds, thisMachine, type Machine, type Needs } from './capacity.js';
export { SCENARIO_DEFAULTS } from './defaults.js';
export { ScenarioError, loadScenario, parseScenario } from './load.js';
export { fleetLabels, gatewayIndex, groupIds, targetIds } from './targets.js';
export * from './types.js';
export { UnitError, formatDuration, formatSize, parseDuration, parseSize } from './units.js';
