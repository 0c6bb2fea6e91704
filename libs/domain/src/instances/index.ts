export { instanceName, instanceSuffix, attachedInstanceName, attachedInstancesOf } from './naming';
export { allocatePort, portRangeOf } from './ports';
export { parseInstanceOf } from './adoption';
