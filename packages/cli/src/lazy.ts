/**
 * The master's and the replica's packages, loaded by the commands that use them. Most commands (users, tokens,
 * clients, settings...) need core only, and loading all three cost every call about a second of CPU: the tests make
 * hundreds of calls, and an admin's scripts as many.
 */
export const loadMaster = () => import('@otpgate/master');
export const loadReplica = () => import('@otpgate/replica');
