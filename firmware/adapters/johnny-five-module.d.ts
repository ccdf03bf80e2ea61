// johnny-five ships no types: just the part of it this project uses. (Not named johnny-five.d.ts:
// next to johnny-five.ts, TypeScript would take that for the adapter's own declaration and skip it.)
declare module 'johnny-five' {
  import type { EventEmitter } from 'node:events';

  namespace five {
    /** An IO plugin (Firmata, raspi-io, the simulator's virtual board): emits 'connect', then 'ready'. */
    interface IOPlugin extends EventEmitter {
      readonly isReady: boolean;
      readonly MODES: { readonly INPUT: number };
      pinMode(pin: number | string, mode: number): unknown;
      digitalWrite(pin: number | string, value: number): unknown;
    }

    interface BoardOptions {
      io: IOPlugin;
      repl?: boolean;
      debug?: boolean;
      sigint?: boolean;
      /** Milliseconds from the IO's 'connect' to 'ready' before the board reports an error. */
      timeout?: number;
    }

    /** Emits 'ready', or 'error' (an Error, or a log event with a message). */
    class Board extends EventEmitter {
      constructor(options: BoardOptions);
    }

    interface ComponentOptions {
      pin: number | string;
      board: Board;
    }

    /** Emits 'down' and 'up', each delivered 7 ms after the last change of the pin (lodash debounce). */
    class Button extends EventEmitter {
      constructor(options: ComponentOptions & { pullup?: boolean });
    }

    class Led {
      constructor(options: ComponentOptions);
      on(): this;
      off(): this;
    }

    /** A digital output unless told otherwise. */
    class Pin extends EventEmitter {
      constructor(options: ComponentOptions);
      high(): this;
      low(): this;
    }
  }

  export = five;
}
