// A destructive action asked twice: the button, then "Confirm <verb>" and "Cancel" in its place.
import { useState, type ButtonHTMLAttributes } from 'react';

export function ConfirmButton(props: {
  /** The button's text, e.g. "Delete"; the confirmation says "Confirm delete". */
  label: string;
  onConfirm: () => void;
  /** What the first button adds (e.g. an aria-label naming what it acts on). */
  buttonProps?: Pick<ButtonHTMLAttributes<HTMLButtonElement>, 'aria-label' | 'aria-describedby'>;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" {...props.buttonProps} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <>
      <button
        type="button"
        className="danger"
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        Confirm {props.label.toLowerCase()}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </>
  );
}
