import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../bridge/config.js';

describe('isLoopbackHost', () => {
  it.each(['localhost', 'LocalHost', 'localhost.', 'LOCALHOST.', '::1', '[::1]', '127.0.0.1', '127.1.2.3', '127.255.255.255'])('%s is loopback', (name) => {
    expect(isLoopbackHost(name)).toBe(true);
  });

  it.each(['', '0.0.0.0', '::', '[::]', '10.0.0.1', '128.0.0.1', '127.evil.example', '127.0.0.1.evil.example', '127.0.0', 'localhost.evil.example', 'mylocalhost', '[::1]:80', '::1]'])('%j is not loopback', (name) => {
    expect(isLoopbackHost(name)).toBe(false);
  });
});
