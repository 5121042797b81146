'use client';
// A button whose work is a script's (its onClick): disabled until React has hydrated the page, so that a click that
// comes earlier is not silently lost. A slow machine or network shows the HTML first; a test suite clicks as soon as
// a button is there, and Playwright's click waits for a button to be enabled (a CI run clicked Start before
// hydration; the start form is a server action that works natively, these buttons are not).
import type { ButtonHTMLAttributes } from 'react';
import { useHydrated } from '../lib/useHydrated';

export function ActionButton({ disabled, type = 'button', ...props }: ButtonHTMLAttributes<HTMLButtonElement>) {
  const hydrated = useHydrated();
  return <button type={type} {...props} disabled={!hydrated || disabled} />;
}
