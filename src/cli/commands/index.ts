/** Every `runlet` command, in the order `runlet --help` lists them. */
import type { CommandDefinition } from "../command.js";
import { auditCommand } from "./audit.js";
import { callsGetCommand, callsListCommand } from "./calls.js";
import { deployCommand } from "./deploy.js";
import { devCommand } from "./dev.js";
import { describeCommand } from "./describe.js";
import { importFissionCommand, importKubelessCommand } from "./import.js";
import {
  functionKeyCreateCommand,
  functionKeyListCommand,
  functionKeyRevokeCommand,
} from "./function-key.js";
import {
  fissionEnvCreateCommand,
  fissionFunctionCreateCommand,
  fissionFunctionUpdateCommand,
  fissionHttpTriggerCreateCommand,
  fissionRouteCreateCommand,
  fissionSpecApplyCommand,
} from "./fission.js";
import { faasCliCommand } from "./faas-cli.js";
import { invokeCommand } from "./invoke.js";
import {
  kubelessCallCommand,
  kubelessDeleteCommand,
  kubelessDeployCommand,
  kubelessListCommand,
  kubelessUpdateCommand,
} from "./kubeless.js";
import { listCommand } from "./list.js";
import { loginCommand, logoutCommand } from "./login.js";
import { logsCommand } from "./logs.js";
import { namespaceListCommand, namespaceQuotaCommand } from "./namespace.js";
import { newCommand } from "./new.js";
import { pushCommand } from "./push.js";
import { operatorCommand } from "./operator.js";
import { removeCommand } from "./remove.js";
import { revisionsCommand } from "./revisions.js";
import { rollbackCommand } from "./rollback.js";
import { scaleCommand } from "./scale.js";
import { topCommand } from "./top.js";
import {
  configCreateCommand,
  configGetCommand,
  configListCommand,
  configRemoveCommand,
} from "./config.js";
import { secretCreateCommand, secretListCommand, secretRemoveCommand } from "./secret.js";
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from "./token.js";
import { triggerCreateCommand, triggerListCommand, triggerRemoveCommand } from "./trigger.js";
import { upCommand } from "./up.js";
import { versionCommand } from "./version.js";

export const commands: readonly CommandDefinition[] = [
  upCommand,
  operatorCommand,
  newCommand,
  pushCommand,
  deployCommand,
  devCommand,
  importFissionCommand,
  importKubelessCommand,
  faasCliCommand,
  fissionEnvCreateCommand,
  fissionFunctionCreateCommand,
  fissionFunctionUpdateCommand,
  fissionRouteCreateCommand,
  fissionHttpTriggerCreateCommand,
  fissionSpecApplyCommand,
  kubelessDeployCommand,
  kubelessUpdateCommand,
  kubelessDeleteCommand,
  kubelessCallCommand,
  kubelessListCommand,
  invokeCommand,
  callsListCommand,
  callsGetCommand,
  listCommand,
  describeCommand,
  logsCommand,
  removeCommand,
  revisionsCommand,
  rollbackCommand,
  scaleCommand,
  topCommand,
  secretCreateCommand,
  secretListCommand,
  secretRemoveCommand,
  configCreateCommand,
  configListCommand,
  configGetCommand,
  configRemoveCommand,
  triggerCreateCommand,
  triggerListCommand,
  triggerRemoveCommand,
  tokenCreateCommand,
  tokenListCommand,
  tokenRevokeCommand,
  functionKeyCreateCommand,
  functionKeyListCommand,
  functionKeyRevokeCommand,
  namespaceListCommand,
  namespaceQuotaCommand,
  auditCommand,
  loginCommand,
  logoutCommand,
  versionCommand,
] as readonly CommandDefinition[];
