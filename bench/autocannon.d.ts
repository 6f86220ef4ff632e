// autocannon ships no types; the benchmark uses only this much of it.
declare module 'autocannon' {
  interface Histogram {
    average: number;
    p50: number;
    p99: number;
  }
  interface Result {
    requests: Histogram & { total: number };
    /** Seconds the run took. */
    duration: number;
    latency: Histogram;
    errors: number;
    non2xx: number;
    timeouts: number;
  }
  interface Request {
    path?: string;
  }
  function autocannon(options: {
    url: string;
    connections?: number;
    duration?: number;
    /** Requests to make; when set, duration is ignored. */
    amount?: number;
    timeout?: number;
    requests?: { setupRequest?: (request: Request) => Request }[];
  }): Promise<Result>;
  export default autocannon;
}
