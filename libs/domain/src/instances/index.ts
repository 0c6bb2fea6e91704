export { instanceName, instanceSuffix, attachedInstanceName, attachedInstancesOf } from './naming';
export { allocatePort, portRangeOf, usedPortNumbers } from './ports';
export { parseInstanceOf } from './adoption';
