import { FAULT_KINDS } from './signals.js';

/** The stdin commands of `edgewise sim mcu` (its --help shows them). */
export const SIM_MCU_HELP = `commands on stdin (one per line):
  reboot                       reset the MCU now (new boot id; uncommitted samples are lost, as on hardware)
  fault <kind> on|off          kinds: ${FAULT_KINDS.join(', ')}
  noise <bytes-per-second>     random bytes between frames
  drop <probability>           drop outgoing frames at random
  lose-commits <seconds>       ignore the gateway's COMMITs for a while (the next link loss then resends stored samples)
  corrupt-chunks <n>           corrupt the next n firmware chunks received
  status                       print the counters now
`;
