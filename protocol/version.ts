/** The release every part of this project reports: the bridge, the gateway and `hcp --version`. */
export const HCP_VERSION = '0.1.0';
