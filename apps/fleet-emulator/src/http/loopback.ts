import net from 'node:net';

/** 127.0.0.0/8, ::1 (in any spelling), or an IPv4-mapped 127.x address. */
export function isLoopbackAddress(address: string): boolean {
  const ip = address.toLowerCase().startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (net.isIPv4(ip)) return ip.startsWith('127.');
  return net.isIPv6(ip) && new URL(`http://[${ip}]/`).hostname === '[::1]';
}
