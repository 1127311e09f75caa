/**
 * The provider contract against runtime servers reached only over TCP, as pods are: no control
 * pipe, no Unix socket, the log stream over HTTP.
 */
import { describeProviderContract } from "./provider-contract.js";
import { TcpProcessProvider } from "./tcp-process-provider.js";

describeProviderContract("tcp-process", {
  pools: false,
  create: (context) => TcpProcessProvider.create(context),
});
