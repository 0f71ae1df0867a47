import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// findBy* and waitFor wait for what the UI will show; their deadline (1 s by default) is for a
// hang, not a measure: on a loaded CI machine a view has taken longer than 1 s to render after
// a click ("is reached from the Settings link" failed so, with two CI runs beside it).
configure({ asyncUtilTimeout: 15_000 });

afterEach(() => {
  cleanup();
  window.sessionStorage.clear();
  window.history.replaceState(null, '', '/');
});
