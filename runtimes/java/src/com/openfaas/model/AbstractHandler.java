package com.openfaas.model;

/** What the java17 template's functions extend (it finds them through a ServiceLoader). */
public abstract class AbstractHandler implements IHandler {
  public AbstractHandler() {}

  @Override
  public abstract IResponse Handle(IRequest request);
}
