export { FaultToolError, type FaultToolCode } from './errors.js';
export { FaultLog, parseFaultLog, type FaultEvent, type FaultEventKind, type FaultLogOptions } from './fault-log.js';
export { TcpProxy, type CutMode, type TcpProxyCounters, type TcpProxyOptions } from './tcp-proxy.js';
export { GatewaySupervisor, type ExitStatus, type GatewayLogLine, type GatewayResources, type GatewayState, type GatewaySupervisorOptions, type ResourceSample } from './gateway-supervisor.js';
export { SerialLink, type SerialLinkOptions } from './serial-link.js';
export { readProcSample, type ProcSample } from './proc-stats.js';
