// Starts `audience lsp` for .jsonata templates and TOML files (the server answers only for
// TOML files with a [destination] table). `npm install` in this folder fetches the client
// library; nothing else is needed.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration("audience");
  const command = settings.get("path") || "audience";
  const explainUrl = settings.get("explainUrl") || undefined;
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "audience",
    "audience",
    { run: server, debug: server },
    {
      documentSelector: [
        { scheme: "file", language: "jsonata" },
        { scheme: "file", language: "toml" },
      ],
      initializationOptions: { explainUrl },
    },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
