package com.openfaas.model;

/**
 * The handler of OpenFaaS's java11/java17 templates, as their functions implement it. Runlet's
 * own class with the same name and shape: those functions compile and run unchanged.
 */
public interface IHandler {
  IResponse Handle(IRequest request);
}
