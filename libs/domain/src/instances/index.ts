export { instanceName, instanceSuffix, attachedInstanceName, attachedInstancesOf } from './naming';
export { allocatePort, portRangeOf, usedPortNumbers } from './ports';
export { parseInstanceOf } from './adoption';
export {
  attachedNamesOf,
  attachedProblem,
  launchRefusal,
  matchInstanceName,
  namingOfService,
  type InstanceMatch,
  type InstanceNaming,
} from './membership';
