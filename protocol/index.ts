export * from './crc16.js';
export * from './frame.js';
export * from './grades.js';
export * from './serial-messages.js';
export * from './link.js';
export * from './records.js';
export * from './acks.js';
export * from './topics.js';
