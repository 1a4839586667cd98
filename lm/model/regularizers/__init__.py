"""AWD-LSTM's regularisers (Merity, Keskar & Socher 2018), each off by default: locked (variational) dropout,
embedding dropout, weight drop on the recurrent matrices, and activation / temporal activation regularisation."""
