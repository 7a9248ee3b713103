// The console's copy buttons: <button data-copy="ID"> copies the text of the element #ID (a secret shown
// once) and says so in the button. Without the clipboard (an insecure origin, a refusal) it says to
// select and copy by hand; the text stays on the page either way.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (button === null) return;
  const source = document.getElementById(button.dataset.copy);
  if (source === null) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select the text and copy it";
  }
});
